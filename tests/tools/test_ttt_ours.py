"""Ours in the time-to-target benchmark: the scratch project, a failed run's message, the best
combination read back from tuning_results."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from tools.benchmark_setup import Settings, Size, make_inputs
from tools.ttt_ours import ScratchProject, best_combination, search_settings, tuning_overrides
from tools.ttt_space import TTT_SIZES

TINY = TTT_SIZES["tiny"]


def test_the_best_combination_is_the_best_mean_over_complete_ones():
    results = pd.DataFrame(
        {
            "combo_id": ["a", "a", "b", "b", "c"],
            "fold_id": [0, 1, 0, 1, 0],
            "status": ["ok", "ok", "ok", "ok", "ok"],
            "auc_roc": [0.8, 0.9, 0.84, 0.84, 0.99],
            "param_num_leaves": [7, 7, 31, 31, 63],
            "param_learning_rate": [0.1, 0.1, 0.2, 0.2, 0.3],
        }
    )
    # c has one fold only: never the best, however high its score.
    assert best_combination(results, n_folds=2) == {"num_leaves": 7, "learning_rate": 0.1}
    results.loc[1, "status"] = "pruned"
    assert best_combination(results, n_folds=2) == {"num_leaves": 31, "learning_rate": 0.2}
    assert best_combination(results.iloc[[4]], n_folds=2) == {}


@pytest.mark.parametrize("size_name", sorted(TTT_SIZES))
@pytest.mark.parametrize(
    "method",
    [
        "grid",
        "grid_asha",
        "tpe",
        "tpe_asha",
        "random_asha",
        "tpe_cheap_asha",
        "tpe_few_asha",
        "tpe_cheap_asha_fold1",
    ],
)
def test_each_of_ours_is_search_settings_the_kedro_run_accepts(size_name, method, project_root):
    size = TTT_SIZES[size_name]
    conf = Settings(project=project_root).conf
    adaptive = method != "grid" and not method.startswith("grid")
    search = search_settings(
        method,
        seed=3,
        budget_s=12.34 if adaptive else None,
        n_combinations=40,
        pruning="wilcoxon",
        round_pruning=size.round_pruning,
    )
    base = yaml.safe_load((conf / "parameters_tuning.yml").read_text())["tuning"]
    space = size.ranges if adaptive else size.grid
    params = TuningParams.model_validate(
        {**base, **tuning_overrides(size, conf), "grid": space, "search": search}
    )
    # Each size's rungs fit below its round cap (the tiny size's 60 rounds included).
    assert params.search.round_pruning.active == ("_asha" in method)
    assert params.search.round_pruning.rung_folds == (1 if method.endswith("_fold1") else 0)
    variant = method.removesuffix("_fold1").removesuffix("_asha")
    assert params.search.strategy == variant.removesuffix("_cheap").removesuffix("_few")
    assert params.search.start == ("cheap" if "_cheap" in method else "sampler")
    assert params.search.startup_trials == (4 if "_few" in method else 8)
    if adaptive:
        assert (params.search.pruning, params.search.seed) == ("wilcoxon", 3)
        assert params.search.time_budget_s == pytest.approx(12.3)


@pytest.mark.slow
def test_a_failed_kedro_run_is_one_error_with_its_logs_tail(tmp_path, project_root):
    settings = Settings(project=project_root)
    size = Size(TINY.rows, TINY.features, TINY.folds, 0, 0, TINY.num_boost_round, 0, 1)
    data, folds, _ = make_inputs(size, 42, settings.conf, settings.columns)
    scratch = ScratchProject(project_root, tmp_path / "project", "local[1]")
    scratch.write_inputs(data, folds)
    assert scratch.locations["model_input@pandas"].is_file()
    assert scratch.locations["model_folds@pandas"].is_file()
    log = tmp_path / "kedro.log"
    # An unknown LightGBM name is refused when Kedro validates the parameters, before Spark.
    with pytest.raises(RuntimeError, match=r"kedro run exited 1; log .*kedro.log:\n") as error:
        scratch.run(
            {"num_leavez": [7]},
            tuning_overrides(TINY, settings.conf),
            n_folds=TINY.folds,
            timeout_s=300,
            log=log,
        )
    assert "num_leavez" in str(error.value) and "num_leavez" in log.read_text()


@pytest.mark.parametrize(
    ("method", "strategy", "start"),
    [
        ("tpe_portfolio_asha", "tpe", "portfolio"),
        ("random_portfolio_asha", "random", "portfolio"),
        ("random_cheap_asha", "random", "cheap"),
    ],
)
def test_a_start_infix_names_the_search_start(method, strategy, start):
    # `start: portfolio` is checked here as written: the product's SearchParams may not know it yet.
    search = search_settings(
        method, seed=1, budget_s=5.0, n_combinations=8, pruning="none", round_pruning={}
    )
    assert (search["strategy"], search["start"]) == (strategy, start)
    assert search["round_pruning"]["rule"] == "asha"
