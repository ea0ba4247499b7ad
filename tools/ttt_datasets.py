"""The datasets of the multi-dataset time-to-target benchmark (issue 31): the seed-shaped
synthetic table at two sizes, and real public tables read through the project's own input path.

A real table is never committed: it lies outside the repository (`--real NAME=PATH`, fetched as
REAL_DATASETS says) and reaches the benchmark as a user's would: a `kedro run --pipelines
preparation` of the scratch project with `input_table` pointing at the file and the dataset's
`columns` and `preparation.folds` settings, whose model_input and model_folds the tuning runs
and the peers then read. The synthetic tables come from data_generation's and preparation's
nodes (benchmark_setup.make_inputs), as before.

Each seed varies the data the same way for every dataset: it keeps a seeded share
(TRAIN_SHARE) of every fold's training rows; test parts stay whole, so scores stay comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spark_lgbm_tuning.pipelines.preparation.folds import TIME_KINDS
from spark_lgbm_tuning.pipelines.tuning.folds import FOLD_COLUMNS, SPLITS
from spark_lgbm_tuning.vocabulary.columns import ColumnParams

# The share of each fold's training rows a seed keeps (drawn without replacement).
TRAIN_SHARE = 0.9


@dataclass(frozen=True)
class RealDataset:
    """A public table: where it comes from, its terms, and the project settings that read it."""

    source: str
    licence: str
    fetch: str
    # `columns:` over ColumnParams' defaults (feature_prefix null: every other column).
    columns: dict[str, Any]
    fold_kind: str
    # pandas.CSVDataset load_args.
    load_args: dict[str, Any] = field(default_factory=dict)
    notes: str = ""


REAL_DATASETS = {
    # Time-ordered: half-hourly rows of the NSW electricity market, 7 May 1996 - 5 Dec 1998.
    "electricity": RealDataset(
        source="M. Harries, Splice-2 comparative evaluation: Electricity pricing (UNSW, 1999); "
        "the normalised Elec2 table as scikit-multiflow/streaming-datasets elec.csv "
        "(commit f1eb9f068c3450233721c3beac6fb0e880e9e7d7), also OpenML data id 151",
        licence="public research dataset; OpenML lists it as Public, the scikit-multiflow "
        "repository states no licence of its own: cite Harries (1999)",
        fetch="fetch github:scikit-multiflow/streaming-datasets; git show HEAD:elec.csv",
        columns={"target": "class", "feature_prefix": None, "time": None},
        fold_kind="expanding",
        notes="45,312 rows x 6 numeric features (period, nswprice, nswdemand, vicprice, "
        "vicdemand, transfer; this copy lacks date and day), label class 1 = price up; rows "
        "in time order, so expanding folds on the row order",
    ),
    # String labels and categorical features.
    "adult": RealDataset(
        source="UCI Adult / Census Income (Becker & Kohavi 1996, doi:10.24432/C5XW20), "
        "adult.data without its rows holding '?', with a header, as pjreddie/Logistic-SGD "
        "adult.data (commit e315bf4321b79d3d4dba2613c8bae650a9817740)",
        licence="CC BY 4.0 (UCI Machine Learning Repository)",
        fetch="fetch github:pjreddie/Logistic-SGD; git show HEAD:adult.data",
        columns={
            "target": "income",
            "positive_class": ">50K",
            "feature_prefix": None,
            "time": None,
        },
        fold_kind="stratified",
        notes="30,162 rows x 14 features (8 strings: categorical), label '>50K' vs '<=50K' "
        "(24.9 % positive); no time: stratified folds",
    ),
}


@dataclass
class Dataset:
    """One dataset as the benchmark uses it: the model input, its folds and its columns."""

    name: str
    data: pd.DataFrame
    folds: pd.DataFrame
    columns: ColumnParams
    # What made it (data_generation's parameters, or the real table's registry entry and path).
    recorded: dict[str, Any]


def parse_real(values: list[str]) -> dict[str, Path]:
    """`--real NAME=PATH` arguments as {name: path}; a name must be in REAL_DATASETS."""
    result = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or name not in REAL_DATASETS:
            raise ValueError(f"--real takes NAME=PATH with NAME in {sorted(REAL_DATASETS)}")
        result[name] = Path(path).expanduser().resolve()
    return result


def real_settings(name: str, path: Path, n_splits: int) -> dict[str, Any]:
    """The scratch project's `ttt` env settings that read `path` as `input_table`."""
    spec = REAL_DATASETS[name]
    columns = ColumnParams.model_validate(spec.columns)
    folds: dict[str, Any] = {"kind": spec.fold_kind, "n_splits": n_splits}
    if spec.fold_kind not in TIME_KINDS:
        folds.update(shuffle=True, seed=42)
    return {
        "catalog": {
            "input_table": {
                "type": "pandas.CSVDataset",
                "filepath": str(path),
                **({"load_args": spec.load_args} if spec.load_args else {}),
            }
        },
        "columns": columns.model_dump(mode="json"),
        "preparation": {"folds": folds},
    }


def vary_folds(folds: pd.DataFrame, seed: int, share: float = TRAIN_SHARE) -> pd.DataFrame:
    """The fold table with a seeded `share` of each fold's training rows kept; test rows whole."""
    fold_id, split, row = FOLD_COLUMNS
    train, _ = SPLITS
    generator = np.random.default_rng(seed)
    parts = []
    for _, part in folds.groupby([fold_id, split], sort=True):
        if part[split].iloc[0] != train:
            parts.append(part)
            continue
        keep = generator.choice(len(part), size=max(1, round(share * len(part))), replace=False)
        parts.append(part.iloc[np.sort(keep)])
    return pd.concat(parts, ignore_index=True)
