"""adaptive_resume: a study rebuilt from the trial store proposes what the interrupted one would
have, reuses the stored folds and leaves other searches' rows out (no Spark)."""

from __future__ import annotations

import pandas as pd
import pytest

from spark_lgbm_tuning.datasets.trial_outputs import STORED_AT
from spark_lgbm_tuning.pipelines.tuning.adaptive import AdaptiveSearch
from spark_lgbm_tuning.pipelines.tuning.combination import CombinationState
from spark_lgbm_tuning.pipelines.tuning.results import PRUNED, result_record, store_record
from tests.pipelines.tuning import adaptive_driver as by_hand
from tests.pipelines.tuning.data import tuning_params


def _stored(rows, params):
    """The store's frame of the rows the search saw (as Progress would have stored them: the
    executor's started_at, the driver's stored_at a little later)."""
    records = []
    for number, (spec, row) in enumerate(rows):
        started = pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(seconds=number)
        record = store_record(
            result_record(spec, {**row, "started_at": started}), None, spec.fold_fingerprint
        )
        records.append({**record, STORED_AT: started + pd.Timedelta(seconds=0.5)})
    return pd.DataFrame(records)


@pytest.mark.parametrize("pruning", ["none", "median"])
def test_a_rebuilt_study_proposes_what_the_interrupted_one_would_have(pruning):
    params = by_hand.adaptive_params("tpe", pruning, n_combinations=14)
    first = AdaptiveSearch(params, by_hand.FOLDS)
    rows = by_hand.drive(first, until=10)
    expected = first.next_group()[0]  # the 11th proposal

    rebuilt = AdaptiveSearch(params, by_hand.FOLDS)
    assert rebuilt.rebuild(_stored(rows, params)) == 10
    assert rebuilt.counts()["pruned"] == first.counts()["pruned"]
    following = rebuilt.next_group()[0]
    assert (following.combo_id, following.fold_id) == (expected.combo_id, 0)
    assert set(rebuilt.reused) == {spec.trial_id for spec, _ in rows}


def test_a_rebuild_orders_by_the_drivers_clock_not_an_executors_an_hour_off():
    # 32 folds told, median pruning: the order matters to the study (it did not for 10). Every
    # other fold ran on an executor whose clock is an hour ahead (its started_at); the driver
    # stored them in the order they ran. Before: the rebuild sorted by started_at, moved that
    # executor's combinations last and proposed another 33rd fold than the interrupted search.
    params = by_hand.adaptive_params("tpe", "median", n_combinations=40)
    first = AdaptiveSearch(params, by_hand.FOLDS)
    rows = by_hand.drive(first, until=32)
    expected = first.next_group()[0]
    stored = _stored(rows, params)
    ahead = stored.index % 2 == 1
    stored.loc[ahead, "started_at"] += pd.Timedelta(hours=1)

    rebuilt = AdaptiveSearch(params, by_hand.FOLDS)
    rebuilt.rebuild(stored)
    following = rebuilt.next_group()[0]
    assert (following.combo_id, following.fold_id) == (expected.combo_id, expected.fold_id)


def test_a_rebuild_from_a_finished_search_reuses_every_fold_of_its_pruned_combinations():
    # At its end a search stores each pruned combination's earlier folds as pruned too: the
    # rebuild must still take all of them, not stop at the first.
    params = by_hand.adaptive_params("random", "median", n_combinations=30)
    folds_seen: dict[tuple, int] = {}

    def alike_on_the_first_fold(values):
        # Every combination scores the same on its first fold, so pruning waits for the
        # second (the median pruner compares a combination's best running mean so far).
        key = tuple(sorted(values.items()))
        folds_seen[key] = folds_seen.get(key, 0) + 1
        return 0.9 if folds_seen[key] == 1 else by_hand.made_up_score(values) + 0.2

    first = AdaptiveSearch(params, by_hand.FOLDS)
    rows = by_hand.drive(first, score=alike_on_the_first_fold)
    relabelled = [
        (spec, {**row, "status": PRUNED} if spec.trial_id in first.pruned_ids else row)
        for spec, row in rows
    ]
    pruned_late = [
        c
        for c in first.combinations.values()
        if c.state == CombinationState.PRUNED and c.next_fold > 1
    ]
    assert pruned_late, "no combination was pruned after its first fold: the case is not met"

    rebuilt = AdaptiveSearch(params, by_hand.FOLDS)
    assert rebuilt.rebuild(_stored(relabelled, params)) == 30
    assert rebuilt.counts() == first.counts()
    assert set(rebuilt.reused) == {spec.trial_id for spec, _ in rows}
    assert rebuilt.next_group() is None  # nothing left to run


def test_an_interrupted_combination_resumes_first_and_reuses_its_stored_folds():
    params = by_hand.adaptive_params(n_combinations=3)
    first = AdaptiveSearch(params, by_hand.FOLDS)
    (spec,) = first.next_group()
    row = by_hand.fold_row(spec, 0.8)
    first.observe([row])

    rebuilt = AdaptiveSearch(params, by_hand.FOLDS)
    rebuilt.rebuild(_stored([(spec, row)], params))
    following = rebuilt.next_group()[0]
    assert (following.combo_id, following.fold_id) == (spec.combo_id, 1)  # fold 0 not rerun
    assert list(rebuilt.reused) == [spec.trial_id]


def test_the_store_rows_of_another_search_are_left_out_of_the_rebuild():
    params = by_hand.adaptive_params(n_combinations=3)
    other = tuning_params(
        grid=by_hand.SPACE,
        num_boost_round=31,
        search={"strategy": "tpe", "n_combinations": 3, "seed": 3},
    )
    rows = by_hand.drive(AdaptiveSearch(other, by_hand.FOLDS))
    assert AdaptiveSearch(params, by_hand.FOLDS).rebuild(_stored(rows, other)) == 0
