"""tools/rung_replay_rows.py: the rows a replay reads, drawn and recorded as the project runs them."""

from __future__ import annotations

import numpy as np
import pytest

from tools import rung_replay_rows
from tools.benchmark_setup import Settings, Size, make_inputs
from tools.ttt_space import TTT_SIZES


def test_combinations_are_drawn_inside_the_ranges_reproducibly():
    ranges = TTT_SIZES["seed"].ranges
    drawn = rung_replay_rows.sample_combinations(ranges, 200, seed=3)

    assert drawn == rung_replay_rows.sample_combinations(ranges, 200, seed=3)
    assert drawn != rung_replay_rows.sample_combinations(ranges, 200, seed=4)
    for name, spec in ranges.items():
        values = np.array([combination[name] for combination in drawn])
        assert spec["low"] <= values.min() and values.max() <= spec["high"]
        assert all(isinstance(value, int) for value in values.tolist()) is bool(spec.get("int"))
    # log: num_leaves 15..2048 has as many draws below ~175 (the geometric middle) as above.
    leaves = np.array([combination["num_leaves"] for combination in drawn])
    assert 0.35 < np.mean(leaves < 175) < 0.65


def test_a_prepared_input_dir_is_read_as_the_synthetic_table(project_root, tmp_path):
    settings = Settings(project=project_root)
    size = TTT_SIZES["tiny"]
    data_size = Size(size.rows, size.features, size.folds, 0, 0, size.num_boost_round, 0, 1)
    data, folds, _ = make_inputs(data_size, 1, settings.conf, settings.columns)
    data.to_parquet(tmp_path / "model_input.parquet")
    folds.to_parquet(tmp_path / "model_folds.parquet")

    read = rung_replay_rows.load_arrays(size, settings.conf, settings.columns, input_dir=tmp_path)
    made = rung_replay_rows.load_arrays(size, settings.conf, settings.columns, seed=1)

    assert np.array_equal(read.x, made.x, equal_nan=True) and np.array_equal(read.y, made.y)
    assert read.rows.keys() == made.rows.keys()
    with pytest.raises(FileNotFoundError):
        rung_replay_rows.load_arrays(
            size, settings.conf, settings.columns, input_dir=tmp_path / "x"
        )
