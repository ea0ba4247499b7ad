"""The benchmark's code path on a tiny size: report structure and equal metrics, no timings."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.conftest import PROJECT_ROOT
from tools import benchmark, benchmark_methods, benchmark_setup
from tools.benchmark_setup import SIZES, Settings

TINY = replace(SIZES["tiny"], rows=2000, folds=2, combos=2, repeats=1)
PROJECT_CONF = PROJECT_ROOT / "conf" / "base"


@pytest.fixture(scope="module")
def report(spark, tmp_path_factory, project_root):
    out_dir = tmp_path_factory.mktemp("benchmarks")
    settings = Settings(
        size_name="tiny", size=TINY, master="local[2]", project=project_root, out_dir=out_dir
    )
    return benchmark.run_benchmark(settings, spark=spark), out_dir


@pytest.mark.slow  # a whole (tiny) benchmark: every method, both modes
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
        # The limit is pure boosting, one trial at a time: no method can be faster than it.
        limit = mode["methods"]["limit"]["median_s"]
        assert 0 < limit <= mode["methods"]["ours"]["median_s"]
        assert mode["limit_detail"]["sum_boosting_s"] > 0
        assert mode["ours_trials"]["n_ok"] == 4
        assert len(mode["limit_detail"]["binning"]) == 2  # one binned Dataset per fold

    table = (out_dir / "tiny.md").read_text()
    assert "| method | median wall s |" in table and "### early_stopping" in table
    assert "| gridsearch |" in table and '"cpu_model"' in table and '"versions"' in table


@pytest.mark.slow  # a whole (tiny) benchmark: every method, both modes
def test_our_metrics_equal_the_reference_methods(report):
    result, _ = report
    for mode in ("fixed", "early_stopping"):
        check = result["modes"][mode]["metrics_vs_reference"]
        assert check["trials_compared"] == 4
        assert check["same_best_iteration"]
        assert max(check["max_abs_diff"].values()) <= 1e-12


def test_only_spark_levers_need_a_session_of_their_own(spark, project_root):
    settings = Settings(size_name="tiny", size=TINY, project=project_root)
    with benchmark_setup.spark_session(
        settings, disabled=("fold_cache",), existing=spark
    ) as session:
        assert session is spark
    with (
        pytest.raises(ValueError, match=r"Spark levers \['worker_reuse'\] need a session"),
        benchmark_setup.spark_session(settings, disabled=("worker_reuse",), existing=spark),
    ):
        pass


def test_a_trial_lever_is_passed_to_the_search_not_the_environment(
    spark, project_root, monkeypatch
):
    """Levers travel in the TrialSpec (tests/executor/test_trial.py checks the executor side)."""
    monkeypatch.delenv("SPARK_LGBM_TUNING_DISABLE_LEVERS", raising=False)
    settings = Settings(size_name="tiny", size=TINY, project=project_root)
    data, folds, _ = benchmark_setup.make_inputs(TINY, 1, settings.conf, settings.columns)
    params = benchmark_setup.tuning_params(TINY, "fixed", settings.conf)
    columns = settings.columns
    _, on, _ = benchmark_methods.run_ours(spark, data, folds, params, columns=columns)
    off_levers = frozenset({"fold_cache", "validation_scores", "shared_rounds"})
    _, off, _ = benchmark_methods.run_ours(
        spark, data, folds, params, columns=columns, disabled_levers=off_levers
    )

    assert (on["status"] == "ok").all() and (off["status"] == "ok").all()
    # The optimisations change the work, not the results.
    for name in benchmark_setup.FIVE_METRICS:
        assert off[name].tolist() == pytest.approx(on[name].tolist(), rel=1e-12, abs=1e-12)
    with pytest.raises(ValueError, match=r"Unknown levers \['nope'\]"):
        benchmark_methods.run_ours(
            spark, data, folds, params, columns=columns, disabled_levers=frozenset({"nope"})
        )


def test_the_conf_is_read_from_the_project_argument(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "conf" / "base")):
        benchmark_setup.tuning_params(TINY, "fixed", tmp_path / "conf" / "base")
    settings = benchmark._parser().parse_args(["--project", str(tmp_path)])
    assert settings.project == tmp_path


def test_the_cli_refuses_unknown_methods_and_levers():
    with pytest.raises(SystemExit, match=r"Unknown methods/modes \['fastest'\]"):
        benchmark.main(["--size", "tiny", "--methods", "ours,fastest"])
    with pytest.raises(SystemExit):
        benchmark.main(["--size", "tiny", "--lever", "no_such_lever"])


def test_a_bad_combination_count_is_refused():
    with pytest.raises(ValueError, match="combos must be 2, 4 or 8"):
        benchmark_setup.tuning_params(replace(TINY, combos=3), "fixed", PROJECT_CONF)
