"""user_tables.py: the user's tables are only read; MLflow's record of what scored what."""

from __future__ import annotations

import hashlib

import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from spark_lgbm_tuning.user_tables import check_user_tables_untouched, location, scoring_tags
from spark_lgbm_tuning.vocabulary.errors import InputDataError


def _copy(data):
    return data


def _catalog(tmp_path, **entries) -> DataCatalog:
    config = {
        "input_table": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "mine.csv")},
        **entries,
    }
    return DataCatalog.from_config(config)


def test_locations_are_resolved_files_folders_or_tables(tmp_path):
    assert location({"filepath": str(tmp_path / "a" / ".." / "b.csv")}) == str(tmp_path / "b.csv")
    assert location({"filepath": "s3://bucket/x/"}) == "s3://bucket/x"
    assert location({"table_name": "Sales", "database": "DW"}) == "table:dw.sales"
    assert location({"type": "kedro.io.MemoryDataset"}) is None


def test_an_output_on_the_users_table_is_refused_before_anything_runs(tmp_path):
    catalog = _catalog(
        tmp_path,
        copy={"type": "pandas.CSVDataset", "filepath": str(tmp_path / "x" / ".." / "mine.csv")},
    )
    pipeline = Pipeline([Node(_copy, "input_table", "copy", name="copy")])

    with pytest.raises(
        InputDataError, match=r"copy would be written to .*mine.csv, which is input_table"
    ):
        check_user_tables_untouched(pipeline, catalog)


def test_outputs_elsewhere_and_runs_without_user_tables_pass(tmp_path):
    catalog = _catalog(
        tmp_path, copy={"type": "pandas.CSVDataset", "filepath": str(tmp_path / "out.csv")}
    )
    check_user_tables_untouched(Pipeline([Node(_copy, "input_table", "copy")]), catalog)
    check_user_tables_untouched(Pipeline([Node(_copy, "a", "b")]), DataCatalog())


def test_scoring_tags_name_the_model_and_the_table(tmp_path):
    model = tmp_path / "refit_model.txt"
    catalog = _catalog(
        tmp_path,
        scoring_table={"type": "pandas.CSVDataset", "filepath": str(tmp_path / "new.csv")},
        refit_model={"type": "text.TextDataset", "filepath": str(model), "versioned": True},
    )
    catalog.save("refit_model", "tree")

    tags = scoring_tags(catalog, "tree")

    assert tags["scoring.table"] == str(tmp_path / "new.csv")
    assert tags["scoring.model_sha256"] == hashlib.sha256(b"tree").hexdigest()
    assert tags["scoring.model_version"] == next(model.iterdir()).name
