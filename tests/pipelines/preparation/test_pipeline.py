"""The preparation pipeline: its catalog contract, the user's table tuned end to end for each
input kind and fold kind (the user's file byte-identical after every run), the example env with
`kedro run` as a user types it, and the guards that keep a user's table from being written."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.config import OmegaConfigLoader
from kedro.framework.session import KedroSession
from kedro.io import DataCatalog
from mlflow.tracking import MlflowClient

from spark_lgbm_tuning.pipelines.preparation import create_pipeline
from spark_lgbm_tuning.vocabulary.errors import InputDataError
from tests.cluster import kedro_run
from tests.project_copy import PROJECT_ROOT, copy_project, scratch_project

PENGUINS = "data/01_raw/penguins.csv"
SMALL_SEARCH = {
    "grid": {"num_leaves": [4, 7], "learning_rate": [0.1], "min_child_samples": [5]},
    "num_boost_round": 20,
    "early_stopping_rounds": 5,
}
OWN_DATA = ["preparation", "tuning", "reporting"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_node_names_and_datasets(project_root: Path):
    pipeline = create_pipeline()
    conf = OmegaConfigLoader(str(project_root / "conf"), base_env="base", default_run_env="local")
    catalog = DataCatalog.from_config(conf["catalog"])
    datasets = {name for name in pipeline.datasets() if not name.startswith("params:")}

    assert [node.name for node in pipeline.nodes][:2] == ["prepare_input", "make_folds"]
    assert pipeline.inputs() == {
        "input_table",
        "params:columns",
        "params:tuning.task",
        "params:preparation",
    }
    assert {"model_input@pandas", "model_folds@pandas", "input_encoding"} <= pipeline.all_outputs()
    # input_table is the user's to declare: base never does, every other dataset resolves.
    assert sorted(name for name in datasets if name not in catalog) == ["input_table"]


def user_table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """A table as users bring them: string labels, a categorical column, ids, missing values."""
    rng = np.random.default_rng(seed)
    shop = rng.choice(["north", "south", "east"], n)
    amount = rng.normal(size=n)
    amount[::17] = np.nan
    signal = (shop == "north") * 1.5 + np.nan_to_num(amount) + rng.normal(scale=0.5, size=n)
    return pd.DataFrame(
        {
            "customer": np.arange(n),
            "day": pd.date_range("2024-01-01", periods=n, freq="D"),
            "store": rng.integers(0, 12, n),
            "shop": shop,
            "amount": amount,
            "visits": rng.poisson(3, n),
            "churned": np.where(signal > 0.5, "yes", "no"),
        }
    )


# Each input kind with a fold kind: the three kinds of input and the five kinds of folds.
CASES = {
    "csv-stratified": ("csv", {"kind": "stratified", "n_splits": 3}, None),
    "parquet-kfold": ("parquet", {"kind": "kfold", "n_splits": 3}, None),
    "parquet-expanding-by-time": ("parquet", {"kind": "expanding", "n_splits": 3, "gap": 5}, "day"),
    "spark-group": ("spark", {"kind": "group", "n_splits": 3}, None),
    "spark-sliding": ("spark", {"kind": "sliding", "n_splits": 3, "train_size": 80}, None),
}


def _declare(project: Path, kind: str) -> Path:
    """Write the user's table outside data/ and declare it as input_table; returns its path."""
    table = user_table()
    folder = project / "mine"
    folder.mkdir()
    if kind == "csv":
        path = folder / "churn.csv"
        table.to_csv(path, index=False)
        entry = {"type": "pandas.CSVDataset", "filepath": str(path)}
    else:
        path = folder / "churn.parquet"
        # Microseconds: Spark reads no nanosecond timestamps.
        table.astype({"day": "datetime64[us]"}).to_parquet(path, index=False)
        entry = {"type": "pandas.ParquetDataset", "filepath": str(path)}
        if kind == "spark":
            entry = {
                "type": "spark.SparkDatasetV2",
                "filepath": str(path),
                "file_format": "parquet",
            }
    catalog = {"input_table": entry}
    (project / "conf/local/catalog.yml").write_text(yaml.safe_dump(catalog))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_a_users_table_is_prepared_tuned_and_reported(tmp_path: Path, spark, case):
    kind, folds, time = CASES[case]
    with scratch_project(tmp_path) as project:
        path = _declare(project, kind)
        before = digest(path)
        columns = {
            "target": "churned",
            "positive_class": "yes",
            "feature_prefix": None,
            "exclude": ["customer", "day"] if time is None else ["customer"],
            "time": time,
            "group": "store" if folds["kind"] == "group" else None,
        }
        params = {"columns": columns, "preparation": {"folds": folds}, "tuning": SMALL_SEARCH}
        with KedroSession.create(project_path=project, runtime_params=params) as session:
            session.run(pipeline_names=OWN_DATA)

        model_input = pd.read_parquet(project / "data/05_model_input/model_input.parquet")
        fold_table = pd.read_parquet(project / "data/05_model_input/model_folds.parquet")
        leaderboard = pd.read_csv(project / "data/08_reporting/leaderboard.csv")
        assert digest(path) == before
        assert isinstance(model_input["shop"].dtype, pd.CategoricalDtype)
        assert fold_table["fold_id"].nunique() == 3
        assert len(leaderboard) == 2 and leaderboard["auc_roc_mean"].between(0.6, 1).all()
        if folds["kind"] == "group":
            for _, fold in fold_table.groupby("fold_id"):
                stores = {
                    split: set(model_input.loc[part["row"], "store"])
                    for split, part in fold.groupby("split")
                }
                assert not stores["train"] & stores["test"]
        versions = sorted((project / "data/08_reporting/best_params.yml").glob("*/*.yml"))
        best = yaml.safe_load(versions[-1].read_text())
        assert "categorical_feature" in str(best)


def test_nothing_may_write_the_users_table(tmp_path: Path):
    """The bug that started it: timeseries_data pointed at the user's own file."""
    with scratch_project(tmp_path) as project:
        path = _declare(project, "csv")
        before = digest(path)
        catalog = yaml.safe_load((project / "conf/local/catalog.yml").read_text())
        catalog["timeseries_data@pandas"] = {"type": "pandas.CSVDataset", "filepath": str(path)}
        (project / "conf/local/catalog.yml").write_text(yaml.safe_dump(catalog))
        with KedroSession.create(project_path=project) as session:
            with pytest.raises(InputDataError, match=r"timeseries_data@pandas would be written to"):
                session.run(pipeline_names=["data_generation"])
        assert digest(path) == before


def test_a_project_output_pointed_at_a_users_file_is_refused(tmp_path: Path):
    """Without input_table, a synthetic output aimed at a file the project did not write."""
    with scratch_project(tmp_path) as project:
        path = project / "mine.parquet"
        pd.DataFrame({"a": [1, 2]}).to_parquet(path)
        before = digest(path)
        catalog = {
            "timeseries_data@pandas": {
                "type": "spark_lgbm_tuning.datasets.atomic_parquet.AtomicParquetDataset",
                "filepath": str(path),
            }
        }
        (project / "conf/local/catalog.yml").write_text(yaml.safe_dump(catalog))
        with KedroSession.create(project_path=project) as session:
            with pytest.raises(Exception, match="mine.parquet"):
                session.run(pipeline_names=["data_generation"])
        assert digest(path) == before


@pytest.mark.slow
def test_the_penguins_example_runs_as_the_readme_says(tmp_path: Path):
    """`kedro run --env penguins`, then its scoring, as a user types them; the CSV untouched."""
    project = copy_project(tmp_path / "project")
    csv = project / PENGUINS
    shutil.copy(PROJECT_ROOT / PENGUINS, csv)
    before = digest(csv)

    tuned = kedro_run(project, "--env", "penguins", "--params", "tracking.enabled=false")
    output = tuned.stdout + tuned.stderr
    assert tuned.returncode == 0, output[-3000:]
    assert "input_table is declared: running preparation, tuning, reporting" in output
    assert "Dropped 11 of 344 rows whose target 'sex' is missing" in output
    assert (project / "data/08_reporting/tuning_report_latest.html").is_file()

    # Tracked: MLflow records which model scored which table.
    scored_run = kedro_run(project, "--env", "penguins", "--pipelines", "scoring")
    assert scored_run.returncode == 0, (scored_run.stdout + scored_run.stderr)[-3000:]
    store = f"sqlite:///{project / 'data/09_tracking/mlruns.db'}"
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs(
        [experiment.experiment_id for experiment in client.search_experiments()],
        filter_string="tags.`scoring.table` != ''",
    )
    assert run.data.tags["scoring.table"] == str(csv.resolve())
    model = next((project / "data/06_models/refit_model.txt").glob("*/refit_model.txt"))
    assert run.data.tags["scoring.model_sha256"] == digest(model)
    scored = pd.read_parquet(project / "data/07_model_output/scored_table.parquet")
    assert len(scored) == 344
    assert {"prediction", "probability_male", "probability_female"} <= set(scored.columns)
    sexed = scored[scored["sex"].notna()]
    assert (sexed["prediction"] == sexed["sex"]).mean() > 0.8

    # Synthetic data in an env whose columns describe the user's table: one line, nothing written.
    generated = kedro_run(project, "--env", "penguins", "--pipelines", "data_generation")
    assert generated.returncode == 1
    assert "data_generation makes a time series and needs columns.time" in generated.stderr
    assert digest(csv) == before


def test_preparation_without_a_declared_input_names_the_fix(tmp_path: Path):
    with scratch_project(tmp_path) as project:
        with KedroSession.create(project_path=project) as session:
            with pytest.raises(Exception, match="input_table is not declared: declare your table"):
                session.run(pipeline_names=["preparation"])


@pytest.mark.slow
def test_a_users_regression_table_is_tuned_reported_and_scored(tmp_path: Path, spark):
    """A numeric target on the user's own table, a categorical feature: tuned, ranked, refit,
    reported with the regression figures (the reporting pipeline follows tuning.task) and
    scored."""
    with scratch_project(tmp_path) as project:
        path = _declare(project, "parquet")
        catalog = yaml.safe_load((project / "conf/local/catalog.yml").read_text())
        catalog["scoring_table"] = catalog["input_table"]
        (project / "conf/local/catalog.yml").write_text(yaml.safe_dump(catalog))
        before = digest(path)
        regression = {
            "task": "regression",
            "primary_metric": "rmse",
            "fixed": {"objective": "regression", "metric": "rmse"},
            **SMALL_SEARCH,
        }
        params = {
            "columns": {
                "target": "visits",
                "feature_prefix": None,
                "exclude": ["customer", "day", "churned"],
                "time": None,
            },
            "preparation": {"folds": {"kind": "kfold", "n_splits": 3}},
            "tuning": regression,
        }
        with KedroSession.create(project_path=project, runtime_params=params) as session:
            session.run(pipeline_names=[*OWN_DATA, "scoring"])

        versions = (project / "data/08_reporting/tuning_report.html").glob("*/tuning_report.html")
        report = next(versions).read_text()
        assert '<div id="predicted_vs_actual_figure"' in report
        assert '<div id="residuals_figure"' in report
        assert '<div id="roc_curve_figure"' not in report
        leaderboard = pd.read_csv(project / "data/08_reporting/leaderboard.csv")
        scored = pd.read_parquet(project / "data/07_model_output/scored_table.parquet")
        assert digest(path) == before
        assert len(leaderboard) == 2 and (leaderboard["rmse_mean"] > 0).all()
        assert len(scored) == 240 and scored["prediction"].dtype == np.float64
        assert "probability_1" not in scored.columns
