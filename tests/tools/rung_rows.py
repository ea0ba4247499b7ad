"""Hand-made rows for the rung replay's tests: every round's validation logloss of a few
combinations whose learning curves cross (fast starters that plateau, a slow-starting winner)."""

from __future__ import annotations

import json

from spark_lgbm_tuning.pipelines.tuning.search_params import RoundPruningParams
from tests.pipelines.tuning.data import tuning_params

CAP = 400

PARAMS = tuning_params(num_boost_round=CAP)


def replay_row(combo: str, logloss, auc: float, fold_id: int = 0, n_train: int = 100) -> dict:
    curve = {str(r): logloss(r) for r in range(1, CAP + 1)}
    return {
        "trial_id": f"{combo}-f{fold_id}",
        "combo_id": combo,
        "fold_id": fold_id,
        "n_train": n_train,
        "params_json": json.dumps({"combo": combo}),
        "status": "ok",
        "rung_metric": "binary_logloss",
        "rung_scores": json.dumps(curve),
        "auc_roc": auc,
    }


def fast_curve(i: int):
    """A fast starter's logloss curve: plateaus at round 50 (fast0 best of them)."""
    return lambda r: 0.5 - 0.1 * min(r, 50) / 50 + 0.001 * i


def slow_curve(r: int) -> float:
    """The winner's: worst early, best from round ~270."""
    return 0.7 - 0.45 * r / CAP


def crossing_rows() -> list[dict]:
    """Five fast starters that plateau, then the winner."""
    return [
        *(replay_row(f"fast{i}", fast_curve(i), 0.90) for i in range(5)),
        replay_row("slow", slow_curve, 0.95),
    ]


def adaptive_rows(order: list[str]) -> list[dict]:
    """Two folds of the crossing combinations in drawn `order`; fold 1 is the cheaper one (100
    training rows against fold 0's 200), so the adaptive order runs it first."""
    rows = []
    for fold_id, n_train in ((0, 200), (1, 100)):
        for combo in order:
            curve, auc = (
                (slow_curve, 0.95) if combo == "slow" else (fast_curve(int(combo[-1])), 0.90)
            )
            rows.append(replay_row(combo, curve, auc, fold_id, n_train))
    return rows


ASHA = RoundPruningParams(rule="asha", eta=3, min_rounds=25, min_trials=2, margin=0.0)
