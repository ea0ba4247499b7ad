"""The stored result rows of a search: `tuning_results` and the trial store, from one schema.

An executor's row holds `trial_spec.ID_FIELDS` + `trial_spec.RESULT_FIELDS`; the driver joins it with its
trial's spec here, once, into a result record: ids, param_<name> (the grid values, typed by
`search_space.param_kinds`), params_json, then the measured fields. The trial store keeps the
record without the param_<name> columns (they follow the current grid: a value fixed in one search
is a grid axis in the next), and a reused trial's record is rebuilt from its spec the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from spark_lgbm_tuning.executor.trial_spec import ID_FIELDS, RESULT_FIELDS, TrialSpec
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams
from spark_lgbm_tuning.pipelines.tuning.search_space import param_kinds, param_value
from spark_lgbm_tuning.vocabulary.statuses import FAILED, OK, PRUNED, TIMED_OUT
from spark_lgbm_tuning.vocabulary.trial_columns import (
    COMBO_ID,
    FOLD_FINGERPRINT,
    PARAM_PREFIX,
    STATUS,
)

# The column types a Spark parquet write of these records had (what readers of tuning_results
# have always loaded): read by pandas, an int column with a missing value becomes float64 and a
# timestamp is naive UTC (datetime64[ns]).
_ARROW_TYPES = {
    "bool": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "double": pa.float64(),
    "string": pa.string(),
    "timestamp": pa.timestamp("ns"),
}


def _naive_utc(value: Any) -> datetime:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(UTC).tz_localize(None)
    return stamp.to_pydatetime()


_TO_PYTHON = {
    "bool": bool,
    "int": int,
    "long": int,
    "double": float,
    "string": str,
    "timestamp": _naive_utc,
}
# Stored outcomes a rerun reuses: they repeat for the same trial (see reusable_records); a pruned
# fold is reused by a grid as the ok fold result it is, unless it was pruned at a rung.
REUSABLE_STATUSES = (OK, FAILED, PRUNED)


def result_fields(params: TuningParams) -> dict[str, str]:
    """Column -> type of a result record, in order (param_<name> columns follow the grid)."""
    return {
        **ID_FIELDS,
        **{f"{PARAM_PREFIX}{name}": kind for name, kind in param_kinds(params).items()},
        "params_json": "string",
        # The fold's data fingerprint: reporting checks results against the current data with it
        # (an adaptive search's trial ids are in no table made before it ran).
        FOLD_FINGERPRINT: "string",
        **RESULT_FIELDS,
    }


def result_schema(params: TuningParams) -> pa.Schema:
    """The explicit schema of `tuning_results`."""
    return pa.schema(
        [
            pa.field(name, _ARROW_TYPES[kind], _nullable(name))
            for name, kind in result_fields(params).items()
        ]
    )


def _nullable(name: str) -> bool:
    """Every column but the ids, params_json and status may be null (a failed trial's metrics)."""
    return (
        name.startswith(PARAM_PREFIX)
        or name == FOLD_FINGERPRINT
        or (name in RESULT_FIELDS and name != STATUS)
    )


def result_record(
    spec: TrialSpec, row: Mapping[str, Any], params_json: str | None = None
) -> dict[str, Any]:
    """The stored record of a trial: its spec's ids and parameters, the row's measurements.

    `params_json` defaults to the spec's parameters (a reused trial keeps the one it ran with).
    """
    record: dict[str, Any] = {
        "trial_id": spec.trial_id,
        COMBO_ID: spec.combo_id,
        "fold_id": int(spec.fold_id),
    }
    for name, value in spec.grid_values.items():
        record[f"{PARAM_PREFIX}{name}"] = value
    record["params_json"] = params_json or json.dumps(spec.params, sort_keys=True)
    record[FOLD_FINGERPRINT] = spec.fold_fingerprint or None
    record.update({name: row.get(name) for name in RESULT_FIELDS})
    return record


def store_record(
    record: Mapping[str, Any], timeout_s: float | None, fold_fingerprint: str = ""
) -> dict[str, Any]:
    """What the trial store keeps of a record: all but param_<name>, plus the timeout it ran under
    and the fingerprint of the fold's data (which the store's retention rule groups by)."""
    kept = {key: value for key, value in record.items() if not key.startswith(PARAM_PREFIX)}
    kept["trial_timeout_s"] = timeout_s
    kept[FOLD_FINGERPRINT] = fold_fingerprint
    return kept


def _is_missing(value: Any) -> bool:
    """None, NaN, NaT or pd.NA (what a parquet round trip makes of a missing value)."""
    return value is None or (not isinstance(value, str | bytes | list | dict) and pd.isna(value))


def _typed_value(value: Any, kind: str) -> Any:
    """A stored or computed value as the Python type of its column (None for a missing one)."""
    if _is_missing(value):
        return None
    return _TO_PYTHON[kind](value)


def results_frame(records: Iterable[Mapping[str, Any]], params: TuningParams) -> pd.DataFrame:
    """The records as `tuning_results`: the explicit schema, as pandas reads it back."""
    fields = result_fields(params)
    kinds = param_kinds(params)
    rows = []
    for record in records:
        row = {}
        for name, kind in fields.items():
            value = record.get(name)
            if name.startswith(PARAM_PREFIX):
                value = param_value(value, kinds[name.removeprefix(PARAM_PREFIX)])
            row[name] = _typed_value(value, kind)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=result_schema(params)).to_pandas()


def reusable_records(
    stored: pd.DataFrame, specs: Iterable[TrialSpec], params: TuningParams
) -> dict[str, dict[str, Any]]:
    """trial_id -> record of the trials whose stored result is final for these parameters.

    `ok` and `failed` repeat for the same trial; a `timed_out` one is reused only while
    trial_timeout_s is not raised above the limit it ran under.
    """
    if stored.empty:
        return {}
    status = stored[STATUS].astype(str)
    reuse = status.isin(REUSABLE_STATUSES)
    if params.trial_timeout_s is not None and "trial_timeout_s" in stored:
        ran_under = pd.to_numeric(stored["trial_timeout_s"], errors="coerce")
        reuse |= (status == TIMED_OUT) & (ran_under >= params.trial_timeout_s)
    found = stored[reuse].set_index("trial_id")
    records = {}
    for spec in specs:
        if spec.trial_id in found.index:
            row = found.loc[spec.trial_id]
            record = result_record(spec, row, params_json=row["params_json"])
            # A fold the fold-wise pruner stopped after it ran is a whole fold result; a trial
            # pruned inside its boosting run (at a rung) is not, and stays pruned.
            if record[STATUS] == PRUNED and _is_missing(record["pruned_at_round"]):
                record[STATUS] = OK
            records[spec.trial_id] = record
    return records
