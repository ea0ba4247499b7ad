"""An adaptive search driven by hand, one fold at a time, with made-up scores (no Spark)."""

from __future__ import annotations

from spark_lgbm_tuning.pipelines.tuning.search_space import FoldFacts
from tests.pipelines.tuning.data import tuning_params

FOLDS = [FoldFacts(2, "fp2", 300, 50), FoldFacts(0, "fp0", 100, 50), FoldFacts(1, "fp1", 200, 50)]
SPACE = {
    "num_leaves": {"low": 4, "high": 64, "log": True, "int": True},
    "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
    "min_child_samples": [5, 20],
}


def adaptive_params(strategy="tpe", pruning="none", **search):
    return tuning_params(
        grid=SPACE,
        search={"strategy": strategy, "pruning": pruning, "seed": 3, **search},
    )


def made_up_score(values):
    """A made-up fold score: best at num_leaves 16 and learning_rate 0.1, the same on each fold."""
    return 0.9 - abs(values["num_leaves"] - 16) / 100 - abs(values["learning_rate"] - 0.1)


def fold_row(spec, score):
    return {"trial_id": spec.trial_id, "status": "ok", "auc_roc": score, "fit_s": 1.0}


def drive(search, score=made_up_score, until=None):
    """Run the search's proposals one fold at a time, to the end or until `until` combinations
    were proposed and ended; returns (spec, row) of each fold run."""
    rows = []
    for _ in range(1000):
        counts = search.counts()
        ended = counts["pruned"] + counts["complete"] + counts["failed"]
        if until is not None and ended == counts["proposed"] == until:
            return rows
        group = search.next_group()
        if group is None:
            return rows
        (spec,) = group
        row = fold_row(spec, score(spec.grid_values))
        search.observe([row])
        rows.append((spec, row))
    raise AssertionError("the search did not end")
