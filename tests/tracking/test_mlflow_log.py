"""tracking/mlflow_log.py against a real MLflow store (SQLite in a temporary folder, no server):
nested runs, the LightGBM model with its signature, output files and their fallbacks."""

from __future__ import annotations

import threading
from pathlib import Path

import lightgbm as lgb
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from kedro.io import DataCatalog  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from spark_lgbm_tuning.tracking import mlflow_log  # noqa: E402
from spark_lgbm_tuning.tracking.records import CombinationRun  # noqa: E402


@pytest.fixture
def store(tmp_path: Path, monkeypatch):
    """A fresh SQLite store as MLflow's tracking URI (artefacts beside it), and its client."""
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("test", artifact_location=str(tmp_path / "art"))
    yield client, experiment_id
    mlflow.set_tracking_uri(previous)


def test_each_combination_is_a_nested_run_with_its_status(store):
    client, experiment_id = store
    parent = client.create_run(experiment_id).info.run_id
    combinations = [
        CombinationRun("a", "num_leaves=7", "ok", {"num_leaves": "7"}, {"auc_roc_mean": 0.7}, {}),
        CombinationRun("b", "num_leaves=15", "failed", {"num_leaves": "15"}, {}, {"status": "x"}),
        CombinationRun("c", "num_leaves=31", "pruned", {}, {"fold_0.auc_roc": 0.5}, {}),
    ]

    run_ids = mlflow_log.log_combinations(client, parent, combinations)

    children = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    by_id = {run.info.run_id: run for run in children}
    assert sorted(by_id) == sorted(run_ids.values())
    a, b, c = (by_id[run_ids[key]] for key in "abc")
    assert a.info.status == "FINISHED" and a.data.metrics == {"auc_roc_mean": 0.7}
    assert a.data.params == {"num_leaves": "7"} and a.info.run_name == "num_leaves=7"
    assert b.info.status == "FAILED" and c.info.status == "KILLED"

    mlflow_log.mark_best(client, run_ids, {"selection": {"combo_id": "b"}})
    assert client.get_run(run_ids["b"]).data.tags["best"] == "true"
    assert "best" not in client.get_run(run_ids["a"]).data.tags


def _booster(data: pd.DataFrame) -> lgb.Booster:
    target = (data["feature_0"] > 0).astype(int)
    return lgb.train(
        {"objective": "binary", "verbosity": -1, "num_leaves": 4},
        lgb.Dataset(data[["feature_0", "feature_1"]], target),
        num_boost_round=5,
    )


def test_the_refit_model_is_a_lightgbm_model_with_the_data_signature(store):
    rng = np.random.default_rng(0)
    data = pd.DataFrame(rng.normal(size=(200, 2)), columns=["feature_0", "feature_1"]).astype(
        np.float32
    )
    data["target"] = 0
    booster = _booster(data)

    run_id = store[0].create_run(store[1]).info.run_id
    mlflow_log.log_model(store[0], run_id, booster.model_to_string(), "model", [data, "x"])

    [logged] = store[0].search_logged_models([store[1]])
    assert logged.source_run_id == run_id and logged.name == "model"
    loaded = mlflow.lightgbm.load_model(logged.model_uri)
    np.testing.assert_allclose(
        loaded.predict(data[["feature_0", "feature_1"]]),
        booster.predict(data[["feature_0", "feature_1"]]),
    )
    signature = mlflow.models.get_model_info(logged.model_uri).signature
    assert signature.inputs.input_names() == ["feature_0", "feature_1"]
    assert [spec.type.name for spec in signature.inputs.inputs] == ["float", "float"]


def test_the_model_goes_to_the_named_run_from_a_thread_without_an_active_run(store):
    """The hooks log the model from their background thread, where no MLflow run is active."""
    client, experiment_id = store
    data = pd.DataFrame({"feature_0": np.arange(50.0), "feature_1": np.arange(50.0) % 7})
    run_id = client.create_run(experiment_id).info.run_id
    errors: list[BaseException] = []

    def log() -> None:
        try:
            booster = _booster(data).model_to_string()
            mlflow_log.log_model(client, run_id, booster, "model", [data])
        except BaseException as error:  # noqa: BLE001 - re-raised on the test's thread
            errors.append(error)

    thread = threading.Thread(target=log)
    thread.start()
    thread.join()

    assert errors == [] and mlflow.active_run() is None
    [logged] = client.search_logged_models([experiment_id])
    assert logged.source_run_id == run_id and logged.name == "model"
    assert len(client.search_runs([experiment_id])) == 1  # no run of its own was started


def test_without_the_data_the_signature_comes_from_the_feature_names():
    data = pd.DataFrame({"feature_0": np.arange(50.0), "feature_1": np.arange(50.0) % 7})
    signature = mlflow_log.model_signature(_booster(data), [pd.DataFrame({"other": [1]})])
    assert signature.inputs.input_names() == ["feature_0", "feature_1"]


def test_a_saved_file_is_copied_and_an_unsaved_output_logged_from_memory(store, tmp_path):
    client, experiment_id = store
    run_id = client.create_run(experiment_id).info.run_id
    saved = tmp_path / "report.html"
    saved.write_text("<html>saved</html>")
    figure = plt.figure()

    mlflow_log.log_output_file(client, run_id, saved, "<html>memory</html>", "report/tuning_report")
    mlflow_log.log_output_file(client, run_id, None, "<html>memory</html>", "other/tuning_report")
    mlflow_log.log_output_file(client, run_id, tmp_path / "missing.png", figure, "plots/a_plot")
    plt.close(figure)

    assert [item.path for item in client.list_artifacts(run_id, "report")] == ["report/report.html"]
    other = client.download_artifacts(run_id, "other/tuning_report.html", str(tmp_path))
    assert Path(other).read_text() == "<html>memory</html>"
    assert [item.path for item in client.list_artifacts(run_id, "plots")] == ["plots/a_plot.png"]
    assert mlflow_log.log_figure(client, run_id, object(), "plots/b") is False


def test_saved_path_follows_kedro_versioned_layout(tmp_path):
    catalog = DataCatalog.from_config(
        {
            "{name}_plot": {
                "type": "matplotlib.MatplotlibDataset",
                "filepath": "data/08_reporting/{name}.png",
                "versioned": True,
            },
            "fold_summary": {"type": "pandas.CSVDataset", "filepath": "data/fold_summary.csv"},
            "in_memory": {"type": "kedro.io.MemoryDataset"},
        }
    )
    version = "2026-12-03T10.00.00.000Z"
    assert mlflow_log.saved_path(catalog, "folds_plot", version) == Path(
        f"data/08_reporting/folds.png/{version}/folds.png"
    )
    assert mlflow_log.saved_path(catalog, "fold_summary", version) == Path("data/fold_summary.csv")
    assert mlflow_log.saved_path(catalog, "in_memory", version) is None
