"""tuning.task multiclass end to end: the penguins' species (three classes) through preparation,
tuning, reporting and scoring in KedroSession runs (conf/penguins_species)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io
import pytest
from kedro.framework.session import KedroSession

from tests.project_copy import scratch_project

ENV = "penguins_species"
SMALL_SEARCH = {
    "grid": {"num_leaves": [4, 15], "learning_rate": [0.1], "min_child_samples": [5]},
    "num_boost_round": 40,
    "early_stopping_rounds": 5,
}
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]


@pytest.fixture
def penguins_project(tmp_path: Path, project_root: Path, spark):
    """A scratch project with the committed penguins table; `spark`: the hook reuses it."""
    with scratch_project(tmp_path) as root:
        shutil.copy(project_root / "data/01_raw/penguins.csv", root / "data/01_raw/penguins.csv")
        yield root


def _figure(root: Path, name: str):
    (path,) = (root / "data/08_reporting").glob(f"{name}.json/*/{name}.json")
    return plotly.io.from_json(path.read_text())


@pytest.mark.slow
def test_species_are_tuned_reported_and_scored(penguins_project: Path):
    root = penguins_project
    runtime = {"tuning": SMALL_SEARCH, "tracking": {"enabled": False}}
    with KedroSession.create(project_path=root, env=ENV, runtime_params=runtime) as session:
        session.run(pipeline_names=["preparation", "tuning", "reporting"])
    with KedroSession.create(project_path=root, env=ENV, runtime_params=runtime) as session:
        session.run(pipeline_names=["scoring"])
        scored = session.load_context().catalog.load("scored_table").toPandas()

    encoding = json.loads((root / "data/05_model_input/input_encoding.json").read_text())
    assert encoding["classes"] == SPECIES
    results = pd.read_parquet(root / "data/07_model_output/tuning_results.parquet")
    assert (results["status"] == "ok").all() and len(results) == 2 * 4
    assert results["auc_ovr_macro"].between(0.9, 1).all()
    assert results["multi_logloss"].gt(0).all() and results["f1_macro"].between(0, 1).all()
    assert results["auc_roc"].isna().all()
    assert all(json.loads(params)["num_class"] == 3 for params in results["params_json"])
    board = pd.read_parquet(root / "data/08_reporting/leaderboard.parquet")
    assert board["auc_ovr_macro_mean"].is_monotonic_decreasing

    predictions = pd.read_parquet(root / "data/07_model_output/test_predictions.parquet")
    probabilities = predictions[[f"probability_{name}" for name in SPECIES]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-9)
    assert (predictions["predicted"] == probabilities.argmax(axis=1)).all()
    assert sorted(predictions["row"]) == list(range(344))  # every penguin tested once

    confusion = _figure(root, "confusion_matrix")
    assert list(confusion.data[0].x) == [f"predicted {name}" for name in SPECIES]
    assert list(confusion.data[0].y) == [f"actual {name}" for name in SPECIES]
    assert "(344 test rows" in confusion.layout.title.text
    roc = _figure(root, "roc_curve")
    assert [trace.name.split(" (")[0] for trace in roc.data[:3]] == [
        f"{name} vs rest" for name in SPECIES
    ]
    (report,) = (root / "data/08_reporting").glob("tuning_report.html/*/tuning_report.html")
    assert "auc_ovr_macro" in report.read_text()

    assert set(scored["prediction"]) <= set(SPECIES)
    columns = [f"probability_{name}" for name in SPECIES]
    np.testing.assert_allclose(scored[columns].sum(axis=1), 1, rtol=1e-9)
    assert (scored["prediction"] == scored["species"]).mean() > 0.9
