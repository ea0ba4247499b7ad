"""search_source: the one place a strategy picks its task source from `tuning_trials`."""

from __future__ import annotations

import pytest

from spark_lgbm_tuning.pipelines.tuning.adaptive import AdaptiveSearch
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.grid import GridSearch
from spark_lgbm_tuning.pipelines.tuning.nodes import expand_search_space
from spark_lgbm_tuning.pipelines.tuning.search_space import fold_facts
from spark_lgbm_tuning.pipelines.tuning.sources import search_source
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from spark_lgbm_tuning.vocabulary.errors import InputDataError
from tests.pipelines.tuning.data import tuning_params

ADAPTIVE = {"strategy": "random", "n_combinations": 3}


def _folds(data, folds):
    return fold_facts(FoldArrays(data, fold_rows(folds, None, len(data)), ColumnParams()))


def test_each_strategy_gets_its_source_from_its_own_table(data, folds):
    grid, adaptive = tuning_params(), tuning_params(search=ADAPTIVE)
    grid_table = expand_search_space(data, folds, grid, ColumnParams())
    plan = expand_search_space(data, folds, adaptive, ColumnParams())
    # One shape: an adaptive search's table has the grid's columns and no row (it proposes).
    assert plan.empty and list(plan.columns) == list(grid_table.columns)
    assert (plan.dtypes == grid_table.dtypes).all()

    source = search_source(grid, grid_table, _folds(data, folds))
    assert isinstance(source, GridSearch)
    assert [spec.trial_id for spec in source.specs] == grid_table["trial_id"].tolist()
    source = search_source(adaptive, plan, _folds(data, folds))
    assert isinstance(source, AdaptiveSearch)
    assert [fold.fold_id for fold in source.folds] == sorted(folds["fold_id"].unique().tolist())


def test_a_table_of_the_other_strategy_is_refused(data, folds):
    grid, adaptive = tuning_params(), tuning_params(search=ADAPTIVE)
    grid_table = expand_search_space(data, folds, grid, ColumnParams())
    plan = expand_search_space(data, folds, adaptive, ColumnParams())

    with pytest.raises(InputDataError, match="grid trials, but search.strategy is 'random'"):
        search_source(adaptive, grid_table, _folds(data, folds))
    with pytest.raises(InputDataError, match="grid asks for"):
        search_source(grid, plan, _folds(data, folds))
