"""pipelines/tuning/progress.py: records stored as they arrive, and what was kept said truthfully."""

from __future__ import annotations

import logging

import pytest

from spark_lgbm_tuning.datasets.store_lock import StoreUnwritableError
from spark_lgbm_tuning.datasets.trial_store import BATCH_PREFIX, TrialStore
from spark_lgbm_tuning.executor import trial_spec
from spark_lgbm_tuning.pipelines.tuning import search_space
from spark_lgbm_tuning.pipelines.tuning.folds import FoldArrays, fold_rows
from spark_lgbm_tuning.pipelines.tuning.progress import Progress, best_score
from spark_lgbm_tuning.vocabulary.columns import ColumnParams
from tests.pipelines.tuning.data import tuning_params


def _progress_with_rows(store, data, folds):
    arrays = FoldArrays(data, fold_rows(folds, None, len(data)), ColumnParams())
    specs = search_space.expand(arrays, tuning_params())
    progress = Progress(tuning_params(), store)
    progress.expect_more(specs)
    rows = [
        {**dict.fromkeys(trial_spec.RESULT_FIELDS), "trial_id": spec.trial_id, "status": "ok"}
        for spec in specs
    ]
    return progress, rows


def test_a_store_that_cannot_be_written_is_named_and_never_claimed_to_keep_trials(
    data, folds, tmp_path, caplog
):
    store = TrialStore(tmp_path / "store")
    progress, rows = _progress_with_rows(store, data, folds)
    progress.add(rows[:2], True)
    # The store's folder is replaced by a file mid-run (a real file-system fault).
    for batch in store.batch_files():
        batch.unlink()
    store.path.rmdir()
    store.path.write_text("in the way")

    with pytest.raises(StoreUnwritableError) as caught:
        progress.add(rows[2:4], True)
    progress.add(rows[4:], True)  # rows that arrive after the failure: not written again
    with caplog.at_level(logging.INFO):
        progress.log_what_was_kept()

    assert str(caught.value).startswith(
        f"Cannot write the trial store batch {BATCH_PREFIX}"
    ) and str(caught.value).endswith(
        f"(2 trial(s)) to {store.path}: [Errno 17] File exists ({store.path}); {store.path} is a "
        "file where a folder should be: move it away (or delete it) and rerun"
    )
    assert (
        "2 finished trial(s) of this run were stored before it; the other 4 were not" in caplog.text
    )
    assert "resumes from them" not in caplog.text


def test_a_store_made_immutable_mid_search_ends_on_the_batch_that_failed_and_the_count(
    data, folds, tmp_path, make_immutable
):
    # Before: no such last line; a run's last line blamed the lock's release instead.
    store = TrialStore(tmp_path / "store")
    progress, rows = _progress_with_rows(store, data, folds)
    progress.add(rows[:2], True)
    make_immutable(store.path)
    with pytest.raises(StoreUnwritableError) as caught:
        progress.add(rows[2:4], True)
    progress.add(rows[4:], True)  # handed over while the search's jobs are cancelled

    with pytest.raises(StoreUnwritableError) as last:
        progress.stopped_by(caught.value)
    message = str(last.value)
    assert last.value.__cause__ is caught.value
    assert message.startswith(f"Cannot write the trial store batch {BATCH_PREFIX}")
    assert f"(2 trial(s)) to {store.path}: [Errno 1] Operation not permitted " in message
    assert (
        ". 2 finished trial(s) of this run were stored before it; the other 4 were not; "
        f"{store.path} is immutable"
    ) in message
    assert message.endswith(f"run `chattr -i {store.path}` (as root), then rerun")


def test_what_was_kept_is_counted_after_an_interrupt(data, folds, tmp_path, caplog):
    store = TrialStore(tmp_path / "store")
    progress, rows = _progress_with_rows(store, data, folds)
    progress.add(rows[:3], True)
    progress.add(rows[3:4], False)  # a job Spark gave up on: not stored
    with caplog.at_level(logging.INFO):
        progress.log_what_was_kept()
        Progress(tuning_params(), None).log_what_was_kept()

    assert f"3 finished trial(s) of this run are in the trial store {store.path}" in caplog.text
    assert "No trial store: the 0 finished trial(s) of this run are not kept" in caplog.text
    assert len(store.load()) == 3


def test_the_best_score_follows_the_metric_direction():
    records = [
        {"status": "ok", "auc_roc": 0.7, "logloss": 0.5},
        {"status": "ok", "auc_roc": 0.9, "logloss": 0.4},
        {"status": "failed", "auc_roc": 0.99, "logloss": 0.1},  # a failed trial never counts
    ]
    assert best_score(records, tuning_params()) == 0.9
    assert best_score(records, tuning_params(primary_metric="logloss")) == 0.4
    assert best_score(records[2:], tuning_params()) is None


def test_progress_lines_count_the_trials_pruned_at_a_rung(data, folds, caplog):
    progress, rows = _progress_with_rows(None, data, folds)
    rows[0].update(status="pruned", pruned_at_round=10)
    rows[1].update(status="pruned")  # a fold the fold-wise pruner stopped: not at a rung
    progress.add(rows, True)
    with caplog.at_level(logging.INFO):
        progress.log()
    assert "(0 failed, 0 timed out), elapsed" in caplog.text  # round pruning off: not said
    progress.params = tuning_params(search={"round_pruning": {"rule": "asha", "min_rounds": 10}})
    with caplog.at_level(logging.INFO):
        progress.log()
    assert "(0 failed, 0 timed out, 1 pruned at a rung), elapsed" in caplog.text


def test_a_search_with_nothing_to_run_says_so(caplog):
    """A rerun of a finished search: not "Trials 0/0 done" (issue 32)."""
    progress = Progress(tuning_params(), None)
    with caplog.at_level(logging.INFO):
        progress.log()
    assert caplog.messages == ["Trials: none to run, every trial of the search is reused"]
