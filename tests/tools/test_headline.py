"""tools/headline.py: the seed's headline extrapolated from a sample of the reference grid."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from spark_lgbm_tuning.datasets.trial_store import TrialStore
from tools import headline

# Two folds of 100 and 200 training rows, a third (not sampled) of 300.
TRAIN_ROWS = {0: 100, 1: 200, 2: 300}


def _sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "status": ["ok", "ok", "failed"],
            "combo_id": ["a", "a", "b"],
            "fold_id": [0, 1, 0],
            "n_train": [100, 200, 100],
            "best_iteration": [10, 30, None],
            # Wall seconds; on a busy machine a run gets half a core: utilisation 0.5.
            "fit_s": [20.0, 60.0, 0.5],
            "cpu_utilisation": [0.5, 0.5, None],
            "peak_rss_mb": [100.0, 300.0, 50.0],
        }
    )


def test_the_grid_is_extrapolated_from_the_cpu_seconds_of_the_ok_trials():
    run_info = {"wall_s": 25.0, "total_cores": 2, "efficiency": 0.8, "task_cpus": 1}
    summary = headline.summarise(_sample(), run_info, TRAIN_ROWS)

    assert summary["sample_ok"] == 2
    assert summary["mean_core_s"] == 20.0  # (10 + 30) CPU seconds / 2
    # Combination a costs 3x as much on fold 1; fold 2 (300 rows, not sampled) extends that
    # linearly in rows past the largest measured fold: 3 x 300 / 200.
    assert summary["base_fold"] == 0
    assert summary["fold_cost_ratios"] == {"0": 1.0, "1": 3.0, "2": 4.5}
    assert summary["core_s_per_trial_by_fold"] == {"0": 10.0, "1": 30.0, "2": 45.0}
    assert summary["extrapolated_folds"] == [2]
    assert summary["grid_core_s"] == 54 * 85.0
    # The seed: four tasks of 8 LightGBM threads on a 16-core M4 for 17 minutes.
    assert summary["grid_wall_s_on_seed_cores"] == 54 * 85.0 / 16 / 0.8
    assert summary["seed_core_s_per_trial"] == pytest.approx(75.56, abs=0.01)
    assert summary["max_peak_rss_mb"] == 300.0


def test_a_fold_between_measured_ones_is_interpolated_and_the_base_is_the_widest_sample():
    ok = pd.DataFrame(
        {
            "status": "ok",
            "combo_id": ["a", "b", "a", "a"],
            "fold_id": [0, 0, 1, 3],
            "n_train": [100, 100, 200, 400],
            "core_s": [10.0, 30.0, 20.0, 60.0],
        }
    )
    base, ratios = headline.fold_ratios(ok, {0: 100, 1: 200, 2: 300, 3: 400})
    assert base == 0  # two combinations there
    # Fold 2 lies between fold 1 (ratio 2) and fold 3 (ratio 6): 4.
    assert ratios == {0: 1.0, 1: 2.0, 2: 4.0, 3: 6.0}


def test_fold_sizes_come_from_the_fold_table():
    folds = pd.DataFrame(
        {
            "fold_id": [0, 0, 0, 1, 1, 1, 1],
            "split": ["train", "train", "test"] + ["train"] * 3 + ["test"],
            "row": range(7),
        }
    )
    assert headline.fold_train_rows(folds) == {0: 2, 1: 3}


def test_no_ok_trial_is_refused():
    with pytest.raises(SystemExit, match="No ok trials"):
        headline.summarise(_sample().assign(status="failed"), {"efficiency": 1.0}, TRAIN_ROWS)


def test_the_command_writes_the_table_and_json(tmp_path):
    (tmp_path / headline.FOLDS).parent.mkdir(parents=True)
    # The trial store as the tuning pipeline writes it: one batch per finished trial.
    store = TrialStore(tmp_path / headline.STORE)
    for record in _sample().assign(trial_id=["t0", "t1", "t2"]).to_dict("records"):
        store.append([record])
    pd.DataFrame({"fold_id": [0, 1], "split": ["train", "train"], "row": [0, 1]}).to_parquet(
        tmp_path / headline.FOLDS
    )
    (tmp_path / headline.RUN_INFO).write_text(
        json.dumps({"wall_s": 25.0, "total_cores": 2, "efficiency": 0.8, "task_cpus": 2})
    )
    headline.main(["--project", str(tmp_path), "--out", str(tmp_path / "headline")])

    written = json.loads((tmp_path / "headline.json").read_text())
    assert written["summary"]["mean_core_s"] == 40.0  # two threads per trial
    assert len(written["trials"]) == 3
    assert "| grid_wall_s_on_seed_cores |" in (tmp_path / "headline.md").read_text()


def test_a_summary_made_for_four_cores_is_restated_for_the_seeds_sixteen(tmp_path):
    trials = [{"status": "ok", "combo_id": "a", "fold_id": 0, "core_s": 10.0}]
    before = {
        "summary": {
            "grid_core_s": 1600.0,
            "sample_efficiency": 0.5,
            "grid_wall_s_on_4_cores": 800.0,
            "seed_wall_s_on_4_cores": 1020,
            "seed_core_s_per_trial": 18.89,
        },
        "trials": trials,
    }
    (tmp_path / "headline.json").write_text(json.dumps(before))

    headline.main(["--restate", str(tmp_path / "headline")])

    after = json.loads((tmp_path / "headline.json").read_text())
    assert after["summary"] == {
        "grid_core_s": 1600.0,
        "sample_efficiency": 0.5,
        "seed_cores": 16,
        "grid_wall_s_on_seed_cores": 200.0,
        "seed_wall_s": 1020,
        "seed_core_s_per_trial": pytest.approx(75.56, abs=0.01),
    }
    assert after["trials"] == trials
    assert "| grid_wall_s_on_seed_cores | 200 |" in (tmp_path / "headline.md").read_text()


def _ttt_report() -> dict:
    """A time_to_target report's parts the extrapolation reads: two seeds of grid and grid_asha."""

    def run(method: str, seed: int, to_target: float, last_end: float) -> dict:
        figures = {"time_to_target_s": to_target, "last_end_s": last_end}
        return {"method": method, "seed": seed, "figures": figures}

    return {
        "command": "python -m tools.time_to_target --size seed",
        "runs": [
            run("grid", 1, 90.0, 100.0),
            run("grid_asha", 1, 30.0, 60.0),
            run("grid", 2, 90.0, 100.0),
            run("grid_asha", 2, 30.0, 80.0),
        ],
        "methods": {"grid": {"time_to_target_s": 90.0}, "grid_asha": {"time_to_target_s": 30.0}},
        "best_ours": "random_asha",
        "speedup_vs_grid": 3.0,
    }


def test_the_pruned_grid_and_the_best_method_scale_the_grid_wall_by_the_benchmarks_ratios():
    stored = {"summary": {"grid_core_s": 16_000.0, "sample_efficiency": 1.0}, "trials": []}
    summary = headline.restate(stored, _ttt_report())["summary"]

    assert summary["grid_wall_s_on_seed_cores"] == 1000.0
    # The pruned grid's last trial ended at 0.6 and 0.8 of the grid's: median 0.7.
    assert summary["search_pruned_grid_wall_ratio"] == pytest.approx(0.7)
    assert summary["search_pruned_grid_wall_s_on_seed_cores"] == pytest.approx(700.0)
    # The grid reaches its target at 0.9 of its wall; the pruned grid 3x sooner than that.
    assert summary["search_grid_to_target_fraction"] == pytest.approx(0.9)
    assert summary["search_pruned_grid_to_target_s_on_seed_cores"] == pytest.approx(300.0)
    assert summary["search_best_ours"] == "random_asha"
    assert summary["search_best_ours_to_target_s_on_seed_cores"] == pytest.approx(300.0)
    # Restating without a report keeps the figures; with another, they are all replaced.
    assert headline.restate({"summary": summary, "trials": []})["summary"] == summary
    report = _ttt_report()
    report["runs"] = [run for run in report["runs"] if run["method"] == "grid"]
    replaced = headline.restate({"summary": summary, "trials": []}, report)["summary"]
    assert "search_pruned_grid_wall_ratio" not in replaced
    assert replaced["search_best_ours_speedup_vs_grid"] == 3.0
