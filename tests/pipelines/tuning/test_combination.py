"""combination: a combination's run folds and its states (no Spark)."""

from __future__ import annotations

from spark_lgbm_tuning.pipelines.tuning.combination import Combination, CombinationState
from spark_lgbm_tuning.pipelines.tuning.search_space import trial_spec
from spark_lgbm_tuning.vocabulary import statuses
from tests.pipelines.tuning.adaptive_driver import FOLDS, adaptive_params


def test_trial_ids_are_the_folds_run_so_far_in_run_order():
    params = adaptive_params(n_combinations=3)
    values = {"num_leaves": 16, "learning_rate": 0.1, "min_child_samples": 5}
    specs = [trial_spec(params, values, fold) for fold in FOLDS]
    combination = Combination(0, values, specs)
    assert combination.state == CombinationState.LIVE and combination.trial_ids == []
    combination.next_fold = 2
    assert combination.trial_ids == [specs[0].trial_id, specs[1].trial_id]


def test_a_pruned_combinations_state_is_the_status_its_folds_are_stored_with():
    # AdaptiveSearch.counts and the store's rows compare the two.
    assert CombinationState.PRUNED == statuses.PRUNED
    assert {state.value for state in CombinationState} == {"live", "complete", "pruned", "failed"}
