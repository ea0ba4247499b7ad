"""Resume of an adaptive search: the trial store's trials taken back into its study.

`rebuild` reads the stored trials that lie in the search space (same fixed parameters, rounds and
fold data: the ids match), adds the finished and pruned combinations to the study in the order the
driver stored them (their first fold's `stored_at`, the driver's clock: an executor's `started_at`
is its own machine's clock, which may be off by hours), and re-proposes the interrupted ones first
(their stored folds are reused, not rerun).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from optuna.trial import TrialState, create_trial

from spark_lgbm_tuning.datasets.trial_outputs import STORED_AT
from spark_lgbm_tuning.pipelines.tuning import strategies
from spark_lgbm_tuning.pipelines.tuning.combination import CombinationState as State
from spark_lgbm_tuning.pipelines.tuning.results import result_record
from spark_lgbm_tuning.pipelines.tuning.search_space import trial_spec
from spark_lgbm_tuning.vocabulary import statuses
from spark_lgbm_tuning.vocabulary.statuses import PRUNED
from spark_lgbm_tuning.vocabulary.trial_columns import FOLD_FINGERPRINT, STATUS

if TYPE_CHECKING:
    from spark_lgbm_tuning.pipelines.tuning.adaptive import AdaptiveSearch

logger = logging.getLogger(__name__)


def rebuild(search: AdaptiveSearch, stored: pd.DataFrame) -> int:
    """Rebuild the study from the store's trials of this search space (see module doc);
    returns the number of combinations taken from the store."""
    by_combo: dict[str, dict[str, dict[str, Any]]] = {}
    fold_of = {fold.fingerprint: fold for fold in search.folds}
    if STORED_AT in stored:
        stored = stored.sort_values(STORED_AT, kind="stable")
    for row in stored.to_dict("records") if not stored.empty else []:
        fold = fold_of.get(row.get(FOLD_FINGERPRINT))
        values = strategies.combination_from_params(row["params_json"], search.space)
        if (
            fold is None
            or values is None
            or row[STATUS] not in {statuses.OK, statuses.FAILED, PRUNED}
        ):
            continue
        spec = trial_spec(search.params, values, fold)
        if spec.trial_id != row["trial_id"]:  # other fixed params, rounds or fold data
            continue
        record = result_record(spec, row, params_json=row["params_json"])
        by_combo.setdefault(spec.combo_id, {})[spec.trial_id] = record
    order = list(by_combo)  # as first stored
    interrupted = []
    for combo_id in order:
        records = by_combo[combo_id]
        first = next(iter(records.values()))
        values = strategies.combination_from_params(first["params_json"], search.space)
        if not _told_from_store(search, values, records):
            interrupted.append(values)
    for values in interrupted:
        search.study.enqueue_trial(values)
    logger.info(
        "Adaptive search rebuilt from the trial store: %d combination(s) finished or pruned, "
        "%d interrupted (resumed first)",
        len(order) - len(interrupted),
        len(interrupted),
    )
    return len(order)


def _told_from_store(
    search: AdaptiveSearch, values: dict[str, Any], records: Mapping[str, dict]
) -> bool:
    """Add a stored combination to the study when its outcome is known; False when it was
    interrupted (its stored folds are kept for reuse)."""
    search.stored.update(records)
    combination = search.add_combination(values, len(search.study.trials))
    combination.running = True
    scores, failed, pruned = [], False, False
    for spec in combination.specs:
        record = records.get(spec.trial_id)
        if record is None:
            break
        combination.next_fold += 1
        score = search.fold_score(record)
        if score is None:
            failed = True
            break
        scores.append(score)
        # A finished search stores every fold of a pruned combination as pruned (see
        # AdaptiveSearch.final_records), an interrupted one only the last: read on to the last.
        pruned = pruned or record[STATUS] == PRUNED
    if failed:
        state = TrialState.FAIL
    elif pruned:
        state = TrialState.PRUNED
    elif combination.next_fold == len(combination.specs):
        state = TrialState.COMPLETE
    else:
        state = TrialState.RUNNING
    if state == TrialState.RUNNING:
        del search.combinations[combination.specs[0].combo_id]
        return False
    search.n_proposed += 1
    search.reused.update((trial_id, records[trial_id]) for trial_id in combination.trial_ids)
    combination.state = {
        TrialState.COMPLETE: State.COMPLETE,
        TrialState.PRUNED: State.PRUNED,
    }.get(state, State.FAILED)
    if state == TrialState.PRUNED:
        search.pruned_ids.update(combination.trial_ids)
    intermediate = {
        step: strategies.reported_value(search.params, scores[: step + 1])
        for step in range(len(scores) - (state == TrialState.COMPLETE))
    }
    search.study.add_trial(
        create_trial(
            state=state,
            value=sum(scores) / len(scores) if state == TrialState.COMPLETE else None,
            params=values,
            distributions=search.space,
            intermediate_values=intermediate,
        )
    )
    return True
