"""The benchmark's code path on a tiny size: report structure and equal metrics, no timings."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from spark_lgbm_tuning import benchmark
from spark_lgbm_tuning.benchmark import SIZES, Settings

TINY = replace(SIZES["tiny"], rows=2000, folds=2, combos=2, repeats=1)


@pytest.fixture(scope="module")
def report(spark, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("benchmarks")
    settings = Settings(size_name="tiny", size=TINY, master="local[2]", out_dir=out_dir)
    return benchmark.run_benchmark(settings, spark=spark), out_dir


def test_the_report_files_hold_every_method_and_ratio(report):
    result, out_dir = report
    written = json.loads((out_dir / "tiny.json").read_text())
    assert written["ratio_to_limit"] == result["ratio_to_limit"]
    for key in ("ratio_to_limit", "speedup_vs_reference", "speedup_vs_gridsearch"):
        assert isinstance(written[key], float) and written[key] > 0
    assert set(written["machine"]) >= {"cpu_model", "logical_cores", "memory_gib", "versions"}
    assert len(written["load_average_before"]) == len(written["load_average_after"]) == 3
    assert written["parameters"]["rows"] == 2000 and written["parameters"]["combos"] == 2

    fixed, early = written["modes"]["fixed"], written["modes"]["early_stopping"]
    assert set(fixed["methods"]) == {"ours", "reference", "gridsearch", "limit"}
    # GridSearchCV cannot early-stop on each fold's test part: it has no early-stopping entry.
    assert set(early["methods"]) == {"ours", "reference", "limit"}
    assert fixed["early_stopping_rounds"] is None and early["early_stopping_rounds"] == 5
    for mode in (fixed, early):
        assert mode["n_trials"] == 4
        for stats in mode["methods"].values():
            assert len(stats["runs_s"]) == 1 and stats["median_s"] > 0
            assert stats["trials_per_minute"] == pytest.approx(60 * 4 / stats["median_s"])
        assert mode["methods"]["limit"]["ratio_to_limit"] == pytest.approx(1.0)
        assert mode["ours_trials"]["n_ok"] == 4
        assert len(mode["limit_detail"]["binning"]) == 2  # one binned Dataset per fold

    table = (out_dir / "tiny.md").read_text()
    assert "| method | median wall s |" in table and "### early_stopping" in table
    assert "| gridsearch |" in table and '"cpu_model"' in table and '"versions"' in table


def test_our_metrics_equal_the_reference_methods(report):
    result, _ = report
    for mode in ("fixed", "early_stopping"):
        check = result["modes"][mode]["metrics_vs_reference"]
        assert check["trials_compared"] == 4
        assert check["same_best_iteration"]
        assert max(check["max_abs_diff"].values()) <= 1e-12


def test_levers_need_a_session_of_their_own(spark):
    settings = Settings(size_name="tiny", size=TINY, out_dir=None)
    with (
        pytest.raises(ValueError, match="Levers need a session of their own"),
        benchmark.spark_session(settings, disabled=("fold_cache",), existing=spark),
    ):
        pass


def test_the_cli_refuses_unknown_methods_and_levers():
    with pytest.raises(SystemExit, match=r"Unknown methods/modes \['fastest'\]"):
        benchmark.main(["--size", "tiny", "--methods", "ours,fastest"])
    with pytest.raises(SystemExit):
        benchmark.main(["--size", "tiny", "--lever", "no_such_lever"])


def test_a_bad_combination_count_is_refused():
    with pytest.raises(ValueError, match="combos must be 2, 4 or 8"):
        benchmark.tuning_params(replace(TINY, combos=3), "fixed")
