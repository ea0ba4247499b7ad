"""tools/headline.py: the seed's headline extrapolated from a sample of the reference grid."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tools import headline


def _sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "status": ["ok", "ok", "failed"],
            "combo_id": ["a", "a", "b"],
            "fold_id": [0, 1, 0],
            "n_train": [100, 200, 100],
            "best_iteration": [10, 30, None],
            "fit_s": [10.0, 30.0, 0.5],
            "peak_rss_mb": [100.0, 300.0, 50.0],
        }
    )


def test_the_grid_is_extrapolated_from_the_ok_trials_in_core_seconds():
    run_info = {"wall_s": 25.0, "total_cores": 2, "efficiency": 0.8, "task_cpus": 1}
    summary = headline.summarise(_sample(), run_info)

    assert summary["sample_ok"] == 2
    assert summary["core_s_per_trial"] == 20.0
    assert summary["grid_core_s"] == 4320.0  # 20 core-s x 216 trials
    assert summary["grid_wall_s_on_4_cores"] == 1350.0  # 4320 / 4 cores / 0.8 efficiency
    assert summary["seed_core_s_per_trial"] == pytest.approx(18.89, abs=0.01)
    assert summary["max_peak_rss_mb"] == 300.0


def test_no_ok_trial_is_refused():
    with pytest.raises(SystemExit, match="No ok trials"):
        headline.summarise(_sample().assign(status="failed"), {"efficiency": 1.0})


def test_the_command_writes_the_table_and_json(tmp_path):
    results = tmp_path / headline.RESULTS
    results.parent.mkdir(parents=True)
    _sample().to_parquet(results)
    (tmp_path / headline.RUN_INFO).write_text(
        json.dumps({"wall_s": 25.0, "total_cores": 2, "efficiency": 0.8, "task_cpus": 2})
    )
    headline.main(["--project", str(tmp_path), "--out", str(tmp_path / "headline")])

    written = json.loads((tmp_path / "headline.json").read_text())
    assert written["summary"]["core_s_per_trial"] == 40.0  # two threads per trial
    assert len(written["trials"]) == 3
    assert "| grid_wall_s_on_4_cores | 2700 |" in (tmp_path / "headline.md").read_text()
