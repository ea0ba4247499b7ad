"""tools/input_benchmark.py: the mixed table it measures, and a whole run at a tiny size."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tools.input_benchmark import main, measure_pandas, write_table


def test_the_table_is_mixed_as_users_bring_them(tmp_path):
    path = tmp_path / "table.parquet"
    write_table(1_200, 10, path)
    table = pd.read_parquet(path)

    assert len(table) == 1_200
    assert [name for name in table if name.startswith("c")] == ["c0", "c1"]
    assert table["c1"].nunique() == 20 and table["x7"].isna().any()
    assert set(table["label"]) == {"yes", "no"}

    measured = measure_pandas(str(path), 1)
    assert measured["wall_s"] > 0 and measured["driver_peak_rss_mb"] > 0


@pytest.mark.slow
def test_a_tiny_run_writes_both_reports(tmp_path):
    assert (
        main(["--rows", "3000", "--features", "10", "--cores", "2", "--out-dir", str(tmp_path)])
        == 0
    )

    report = json.loads((tmp_path / "input-preparation.json").read_text())
    (size,) = report["sizes"]
    assert size["spark"]["wall_s"] > 0 and size["scoring"]["rows"] == 3000
    assert size["scoring"]["spark_map_in_pandas_rows_per_s_per_core"] > 0
    assert "| 3,000 x 10 | Spark table |" in (tmp_path / "input-preparation.md").read_text()
