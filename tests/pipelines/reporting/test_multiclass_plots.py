"""A multiclass winner's figures: each class one vs rest, the N x N confusion matrix, the class
labels from input_encoding; the binary figures hand such predictions here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from spark_lgbm_tuning.pipelines.reporting.multiclass_plots import class_probabilities
from spark_lgbm_tuning.pipelines.reporting.params import ReportingParams
from spark_lgbm_tuning.pipelines.reporting.prediction_plots import (
    plot_calibration,
    plot_confusion_matrix,
    plot_precision_recall,
    plot_roc_curve,
)
from spark_lgbm_tuning.pipelines.reporting.predictions import select_test_predictions
from spark_lgbm_tuning.pipelines.reporting.results import ReportingError
from spark_lgbm_tuning.pipelines.tuning.predictions import CURVE_COLUMNS, PREDICTION_COLUMNS
from tests.pipelines.tuning.data import tuning_params

LABELS = ["Adelie", "Chinstrap", "Gentoo"]
MULTICLASS = tuning_params(task="multiclass", primary_metric=None, fixed={"objective": "softmax"})


def _kept(n: int = 600, seed: int = 2) -> pd.DataFrame:
    """tuning_predictions of one combination, two folds, three classes (class 2 easiest)."""
    rng = np.random.default_rng(seed)
    actual = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + np.eye(3)[actual] * np.array([1.0, 1.5, 4.0])
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return pd.DataFrame(
        {
            "combo_id": "c",
            "fold_id": np.repeat([0, 1], n // 2).astype(np.int32),
            "row": np.arange(n),
            "actual": actual.astype(float),
            "predicted": probabilities.argmax(axis=1).astype(float),
            **{f"probability_{k}": probabilities[:, k] for k in range(3)},
        }
    )


def _selected(kept: pd.DataFrame, classes=LABELS) -> pd.DataFrame:
    encoding = {"target": "species", "features": [], "classes": classes}
    frame, _ = select_test_predictions(
        {"selection": {"combo_id": "c"}},
        kept,
        pd.DataFrame(columns=CURVE_COLUMNS),
        MULTICLASS,
        encoding,
    )
    return frame


def test_the_report_names_each_class_probability_by_its_label():
    kept = _kept()

    frame = _selected(kept)

    assert frame.columns.tolist() == [
        *PREDICTION_COLUMNS[1:],
        *(f"probability_{label}" for label in LABELS),
    ]
    np.testing.assert_array_equal(frame["probability_Gentoo"], kept["probability_2"])
    numbered = _selected(kept, classes=None)
    assert "probability_2" in numbered.columns
    with pytest.raises(ReportingError, match="hold 3 class probabilities but input_encoding"):
        _selected(kept, classes=["a", "b"])


def test_roc_is_one_vs_rest_per_class_with_its_auc():
    frame = _selected(_kept())

    fig = plot_roc_curve(frame)

    names = [trace.name for trace in fig.data]
    assert [name.split(" (")[0] for name in names] == [f"{x} vs rest" for x in LABELS] + ["chance"]
    gentoo = roc_auc_score(frame["actual"] == 2, frame["probability_Gentoo"])
    assert f"(AUC {gentoo:.4f})" in names[2]
    per_class = [roc_auc_score(frame["actual"] == k, frame.iloc[:, 4 + k]) for k in range(3)]
    assert f"macro AUC {np.mean(per_class):.4f}" in fig.layout.title.text


def test_a_class_the_test_parts_lack_has_no_curve():
    kept = _kept()
    kept = kept[kept["actual"] != 1]

    fig = plot_precision_recall(_selected(kept))

    assert [trace.name.split(" vs")[0] for trace in fig.data] == ["Adelie", "Gentoo"]


def test_confusion_matrix_is_n_by_n_of_the_most_probable_class():
    frame = _selected(_kept())

    heatmap = plot_confusion_matrix(frame, ReportingParams(threshold=0.99)).data[0]

    counts = np.asarray(heatmap.z)
    expected = pd.crosstab(frame["actual"], frame["predicted"]).to_numpy()
    np.testing.assert_array_equal(counts, expected)  # the threshold plays no part
    assert list(heatmap.x) == [f"predicted {label}" for label in LABELS]
    assert list(heatmap.y) == [f"actual {label}" for label in LABELS]
    assert counts.sum() == len(frame)


def test_calibration_has_a_line_per_class():
    frame = _selected(_kept())

    fig = plot_calibration(frame, ReportingParams(calibration_bins=5))

    assert [trace.name for trace in fig.data] == [*LABELS, "perfect"]
    assert all(len(trace.x) <= 5 for trace in fig.data[:3])


def test_actual_classes_beyond_the_probabilities_are_refused():
    frame = _selected(_kept())
    frame.loc[0, "actual"] = 3.0

    with pytest.raises(ReportingError, match=r"not all among the 3 classes 0..2"):
        class_probabilities(frame)
    with pytest.raises(ReportingError, match="rerun the tuning pipeline"):
        plot_roc_curve(frame)
