"""tools/tracking_overhead.py: the tracking line it reads is the one the hooks write, and the
shares it reports are the medians' ratios."""

from __future__ import annotations

import json

import pytest

from spark_lgbm_tuning.tracking.hooks import TRACKING_TOOK
from tools.tracking_overhead import summarise, table_markdown, tracking_seconds, write_report


def test_it_reads_the_seconds_the_hooks_log():
    log = f"INFO  Pipeline execution completed.\nINFO  {TRACKING_TOOK % (1.234, 5.678)}\n"
    assert tracking_seconds(log) == (1.23, 5.68)
    assert tracking_seconds("INFO  MLflow tracking is off (tracking.enabled is false)") is None


def _runs() -> list[dict]:
    return [
        {"tracking": True, "wall_s": 130.0, "search_s": 100.0, "tracking_s": 1.0,
         "tracking_background_s": 3.0},
        {"tracking": False, "wall_s": 126.0, "search_s": 98.0},
        {"tracking": False, "wall_s": 128.0, "search_s": 99.0},
        {"tracking": True, "wall_s": 134.0, "search_s": 110.0, "tracking_s": 3.0,
         "tracking_background_s": 5.0},
    ]  # fmt: skip


def test_the_shares_are_the_medians_over_the_median_search_wall():
    summary = summarise(_runs())
    assert summary["median_tracking_s"] == 2.0 and summary["median_search_s_on"] == 105.0
    assert summary["tracking_share_of_search"] == pytest.approx(2.0 / 105.0)
    assert summary["median_wall_s_on"] == 132.0 and summary["median_wall_s_off"] == 127.0
    assert summary["wall_difference_share_of_search"] == pytest.approx(5.0 / 105.0)


def _report():
    runs = _runs()
    return {
        "size": "medium", "created_at": "now", "command": "python -m tools.tracking_overhead",
        "machine": {}, "load_average_before": [0], "load_average_after": [0], "wall_s": 1.0,
        "parameters": {}, "runs": runs, "summary": summarise(runs),
    }  # fmt: skip


def test_the_table_shows_every_run_and_the_share():
    table = table_markdown(_report())
    assert table.count("| on |") == 2 and table.count("| off |") == 2
    assert "**1.90%**" in table


def test_the_report_is_written_into_an_out_dir_it_creates(tmp_path):
    # A measurement takes minutes: a new --out-dir must not lose it at the last step.
    out_dir = tmp_path / "not" / "there"
    table = write_report(_report(), out_dir)
    assert (out_dir / "tracking-overhead-medium.md").read_text() == table
    assert json.loads((out_dir / "tracking-overhead-medium.json").read_text())["runs"]
