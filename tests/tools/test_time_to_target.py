"""The time-to-target comparison end to end on the tiny size: our grid as a real `kedro run`,
Optuna alone beside it, the report files; and the command line's checks."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tools import time_to_target
from tools.benchmark_setup import Settings
from tools.ttt_space import TTT_SIZES

TINY = replace(TTT_SIZES["tiny"], budget_factor=0.5)
METHODS = ["grid", "grid_asha", "tpe", "optuna"]


@pytest.fixture(scope="module")
def comparison(spark, tmp_path_factory, project_root):
    out_dir = tmp_path_factory.mktemp("benchmarks")
    settings = Settings(
        size_name="tiny", master="local[2]", project=project_root, out_dir=out_dir, tag="ttt"
    )
    report = time_to_target.run_comparison("tiny", TINY, settings, METHODS, spark=spark)
    return report, out_dir


@pytest.mark.slow
def test_the_target_is_our_grids_best_and_the_peers_objective_agrees(comparison):
    report, _ = comparison
    runs = {run["method"]: run for run in report["runs"]}
    assert [run["method"] for run in report["runs"]] == METHODS
    grid, optuna = runs["grid"], runs["optuna"]
    assert report["grid_best"] == grid["grid_best"] == grid["figures"]["best_score"]
    assert report["target"] == pytest.approx(report["grid_best"] - 0.0005)
    # Our grid reaches its own best no later than its search ends, with every combination run.
    assert 0 < grid["figures"]["time_to_target_s"] <= grid["run_info"]["wall_s"]
    assert grid["figures"]["n_complete"] == 4 and grid["figures"]["n_pruned"] == 0
    # The peers' objective scores the grid's best combination exactly as our search did.
    assert report["objective_check"]["abs_diff"] <= 1e-12
    assert optuna["figures"]["n_trials"] >= 1
    assert optuna["figures"]["last_end_s"] < 0.5 * grid["run_info"]["wall_s"] + 30


@pytest.mark.slow
def test_the_pruned_grid_runs_every_combination_and_is_checked_against_the_winner(comparison):
    report, _ = comparison
    grid, grid_asha = report["runs"][0], report["runs"][1]
    assert "error" not in grid_asha, grid_asha.get("error")
    # Every combination is started; one stopped at a rung is not complete (never ranked).
    figures = grid_asha["figures"]
    assert figures["n_trials"] == grid["figures"]["n_trials"] == 4
    assert figures["n_complete"] + figures["n_pruned"] == 4
    assert figures["best_score"] <= grid["grid_best"] + 1e-12
    kept = figures["best_score"] >= grid["grid_best"] - 0.0005
    assert report["pruned_grid_keeps_winner"] == {"seeds": int(kept), "of": 1}


@pytest.mark.slow
def test_our_adaptive_search_runs_within_its_budget_and_counts_pruned_combinations(comparison):
    report, _ = comparison
    grid, tpe = report["runs"][0], report["runs"][2]
    assert "error" not in tpe, tpe.get("error")
    figures = tpe["figures"]
    assert (
        figures["n_trials"] >= 1
        and figures["n_complete"] + figures["n_pruned"] <= figures["n_trials"]
    )
    # A budget of half the grid's wall; the last running trials may end a little after it.
    assert tpe["run_info"]["wall_s"] < 0.5 * grid["run_info"]["wall_s"] + 30


@pytest.mark.slow
def test_the_files_hold_the_headline_keys_and_a_plot_per_method(comparison):
    report, out_dir = comparison
    written = json.loads((out_dir / "ttt.json").read_text())
    assert "speedup_vs_grid" in written and "speedup_vs_best_peer" in written
    if "tpe" not in METHODS:
        # Without an adaptive strategy there is no speed-up to state (not a made-up number).
        assert written["speedup_vs_grid"] is None and written["speedup_vs_best_peer"] is None
    else:
        assert written["best_ours"] in {None, "grid_asha", "tpe"}
    assert list(written["methods"]) == METHODS
    assert written["parameters"]["seeds"] == [1] and written["parameters"]["folds"] == 4
    for method in METHODS:
        assert (out_dir / f"ttt-{method}.png").stat().st_size > 0
    assert "| grid | 1/1 |" in (out_dir / "ttt.md").read_text()


def test_the_methods_must_start_with_the_grid():
    with pytest.raises(SystemExit, match="start with 'grid'"):
        time_to_target.main(["--methods", "optuna,grid"])
    with pytest.raises(SystemExit, match="start with 'grid'"):
        time_to_target.main(["--methods", "grid,gridsearch"])


# The multi-dataset path at its smallest: the synthetic table and an adult-shaped CSV (string
# label, a string feature) through the preparation pipeline, one seed, the new peers.
MULTI_TINY = replace(TTT_SIZES["multi_tiny"], seeds=(1,), datasets=("seed3k", "adult"))
MULTI_METHODS = ["grid", "grid_asha", "tpe_cheap_asha", "flaml_default", "optuna_tuner_cv"]


@pytest.fixture(scope="module")
def multi(spark, tmp_path_factory, project_root):
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("real")
    generator = np.random.default_rng(0)
    age = generator.integers(18, 80, 1500)
    work = generator.choice(["Private", "State-gov", "Self-emp"], 1500)
    rich = (age + 15 * (work == "Self-emp") + generator.normal(0, 15, 1500)) > 60
    table = pd.DataFrame({"age": age, "work": work, "income": np.where(rich, ">50K", "<=50K")})
    table.to_csv(folder / "adult.csv", index=False)
    out_dir = tmp_path_factory.mktemp("benchmarks")
    settings = Settings(
        size_name="multi_tiny", master="local[2]", project=project_root, out_dir=out_dir, tag="m"
    )
    report = time_to_target.run_multi(
        "multi_tiny",
        MULTI_TINY,
        settings,
        MULTI_METHODS,
        real={"adult": folder / "adult.csv"},
        ours="tpe_cheap_asha",
        spark=spark,
    )
    return report, out_dir


@pytest.mark.slow
def test_the_multi_path_judges_every_method_against_each_datasets_best_known(multi):
    report, out_dir = multi
    assert list(report["datasets"]) == ["seed3k", "adult"]
    for dataset in report["datasets"].values():
        assert dataset["errors"] == []
        (round_,) = dataset["rounds"]
        # Best-known is some method's best within the budget, and no lower than the grid's.
        assert round_["best_known"] >= round_["grid_best"]
        assert set(round_["methods"]) == set(MULTI_METHODS)
        assert min(figures["regret"] for figures in round_["methods"].values()) >= 0
        assert dataset["pruned_grid_keeps_winner"]["of"] == 1
    adult = report["datasets"]["adult"]["data"]
    assert adult["shape"] == [1500, 2] and adult["fold_kind"] == "stratified"
    written = json.loads((out_dir / "m.json").read_text())
    assert set(written["overall"]) >= {
        "best_at_budget_minus_best_peer",
        "regret_vs_best_peer",
        "speedup_vs_best_peer",
        "speedup_vs_grid",
        "pruned_grid_keeps_winner",
    }
    assert (out_dir / "m-adult.png").is_file()
