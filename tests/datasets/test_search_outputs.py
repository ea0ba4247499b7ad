"""The search's outputs as one set: a save that fails anywhere leaves the previous four files
byte-identical; a save that completes the set replaces all four (issue 32)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DatasetError, Version

from spark_lgbm_tuning.datasets.search_outputs import (
    SearchJSONDataset,
    SearchParquetDataset,
)
from spark_lgbm_tuning.pipelines.tuning import create_pipeline as create_tuning
from spark_lgbm_tuning.pipelines.tuning_regression import create_pipeline as create_regression
from spark_lgbm_tuning.vocabulary.search_id import SEARCH_ID
from tests.small_disk import tmpfs

# In run_trials' order of outputs, which is the order Kedro saves them in.
NAMES = [
    "tuning_results.parquet",
    "tuning_run_info.json",
    "tuning_predictions.parquet",
    "tuning_learning_curves.parquet",
]
PREDICTIONS = NAMES.index("tuning_predictions.parquet")


def _datasets(folder: Path) -> list[SearchParquetDataset | SearchJSONDataset]:
    return [
        (SearchJSONDataset if name.endswith(".json") else SearchParquetDataset)(
            filepath=str(folder / name), search_outputs=NAMES
        )
        for name in NAMES
    ]


def _outputs(search_id: str, n_predictions: int = 3) -> list:
    """The four outputs of one run, stamped with its search id as run_trials stamps them."""
    tables = [
        pd.DataFrame({"trial_id": ["a", "b"], "status": ["ok", "ok"], "auc_roc": [0.7, 0.8]}),
        pd.DataFrame(
            {"combo_id": ["c1"] * n_predictions, "y_pred": np.linspace(0, 1, n_predictions)}
        ),
        pd.DataFrame({"combo_id": ["c1", "c1"], "round": [1, 2], "value": [0.6, 0.65]}),
    ]
    for table in tables:
        table.attrs[SEARCH_ID] = search_id
    run_info = {SEARCH_ID: search_id, "n_trials": 2, "master": "local[2]"}
    return [tables[0], run_info, tables[1], tables[2]]


def _save(folder: Path, outputs: list) -> None:
    for dataset, data in zip(_datasets(folder), outputs, strict=True):
        dataset.save(data)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file in `folder`, hidden ones (staged, kept) included, by name."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _search_ids(folder: Path) -> list[str]:
    return [
        data[SEARCH_ID] if isinstance(data, dict) else data.attrs[SEARCH_ID]
        for data in (dataset.load() for dataset in _datasets(folder))
    ]


def test_the_set_is_replaced_when_its_last_file_is_saved_and_leaves_nothing_beside(tmp_path):
    _save(tmp_path, _outputs("one"))
    datasets = _datasets(tmp_path)
    for dataset, data in zip(datasets[:-1], _outputs("two")[:-1], strict=True):
        dataset.save(data)
    assert _search_ids(tmp_path) == ["one"] * 4  # three staged: a reader still finds run one

    datasets[-1].save(_outputs("two")[-1])

    assert _search_ids(tmp_path) == ["two"] * 4
    assert sorted(_files(tmp_path)) == sorted(NAMES)
    pd.testing.assert_frame_equal(datasets[2].load(), _outputs("two")[2])
    # Human-readable as json.JSONDataset wrote it: indented.
    assert (tmp_path / "tuning_run_info.json").read_text().startswith('{\n  "search_id": "two"')


def test_a_value_that_cannot_be_written_leaves_the_previous_four_files_byte_identical(tmp_path):
    _save(tmp_path, _outputs("one"))
    before = _files(tmp_path)
    failing = _outputs("two")
    failing[PREDICTIONS] = failing[PREDICTIONS].assign(y_pred=[object()] * 3)  # not parquet

    with pytest.raises(DatasetError, match="tuning_predictions"):
        _save(tmp_path, failing)

    assert _files(tmp_path) == before  # the two staged files of run two removed too
    assert _search_ids(tmp_path) == ["one"] * 4
    _save(tmp_path, _outputs("three"))
    assert _search_ids(tmp_path) == ["three"] * 4


def test_a_full_disk_leaves_the_previous_four_files_byte_identical(tmp_path):
    """The failure of issue 32 on a real file system that fills up: 1 MB of predictions do not
    fit the 256 KB disk, whose first set takes a few KB."""
    with tmpfs(tmp_path / "disk", "256k") as disk:
        _save(disk, _outputs("one"))
        before = _files(disk)

        with pytest.raises(DatasetError) as caught:
            _save(disk, _outputs("two", n_predictions=70_000))

        message = str(caught.value)
        assert f"Cannot save {disk / 'tuning_predictions.parquet'}: [Errno 28]" in message
        assert "the previous tuning_results.parquet, tuning_run_info.json" in message
        assert _files(disk) == before
        assert _search_ids(disk) == ["one"] * 4


def test_a_file_that_cannot_be_replaced_leaves_the_previous_four_files(tmp_path, make_immutable):
    """As measured for issue 32: the previous predictions made immutable during a rerun."""
    _save(tmp_path, _outputs("one"))
    before = _files(tmp_path)
    make_immutable(tmp_path / "tuning_predictions.parquet")

    with pytest.raises(DatasetError) as caught:
        _save(tmp_path, _outputs("two"))

    message = str(caught.value)
    assert message.startswith(
        f"Cannot move the search's outputs into place in {tmp_path}: [Errno 1] Operation not "
        f"permitted ({tmp_path / 'tuning_predictions.parquet'}); the previous tuning_results"
    )
    assert message.endswith(
        f"chattr -i {tmp_path / 'tuning_predictions.parquet'}` (as root), then rerun"
    )
    assert _files(tmp_path) == before
    assert _search_ids(tmp_path) == ["one"] * 4


def test_a_move_that_fails_after_two_files_were_moved_puts_them_back(tmp_path, make_immutable):
    """The third staged file cannot be renamed (immutable): the two moved before it are
    replaced by their previous versions again."""
    _save(tmp_path, _outputs("one"))
    before = _files(tmp_path)
    datasets, outputs = _datasets(tmp_path), _outputs("two")
    for dataset, data in zip(datasets[:-1], outputs[:-1], strict=True):
        dataset.save(data)
    staged = make_immutable(tmp_path / ".tuning_predictions.parquet.staged-two")

    with pytest.raises(DatasetError, match=r"\[Errno 1\] Operation not permitted"):
        datasets[-1].save(outputs[-1])

    # The immutable staged file cannot be removed either; the next whole set removes it.
    assert _files(tmp_path) == before | {staged.name: staged.read_bytes()}
    assert _search_ids(tmp_path) == ["one"] * 4


def test_a_leftover_of_a_killed_run_is_never_loaded_and_the_next_set_removes_it(tmp_path):
    _save(tmp_path, _outputs("one"))
    # What a run killed after staging two files leaves (no save of it failed, so none cleaned).
    for dataset, data in zip(_datasets(tmp_path)[:2], _outputs("killed")[:2], strict=True):
        dataset.save(data)
    assert (tmp_path / ".tuning_results.parquet.staged-killed").exists()
    assert _search_ids(tmp_path) == ["one"] * 4

    _save(tmp_path, _outputs("two"))

    assert sorted(_files(tmp_path)) == sorted(NAMES)
    assert _search_ids(tmp_path) == ["two"] * 4


def test_an_output_without_a_search_id_is_refused_and_nothing_changes(tmp_path):
    _save(tmp_path, _outputs("one"))
    before = _files(tmp_path)
    results = _outputs("two")[0]
    results.attrs.clear()

    with pytest.raises(DatasetError, match=f"it carries no {SEARCH_ID}"):
        _datasets(tmp_path)[0].save(results)
    assert _files(tmp_path) == before


def test_each_member_names_its_own_file_once_and_is_a_local_unversioned_file(tmp_path):
    with pytest.raises(DatasetError, match="must name each file of the set once"):
        SearchParquetDataset(filepath=str(tmp_path / "other.parquet"), search_outputs=NAMES)
    with pytest.raises(DatasetError, match="must name each file of the set once"):
        SearchJSONDataset(filepath=str(tmp_path / NAMES[1]), search_outputs=[*NAMES, NAMES[1]])
    with pytest.raises(DatasetError, match="unversioned local file"):
        SearchJSONDataset(filepath=f"memory://{NAMES[1]}", search_outputs=NAMES)
    with pytest.raises(DatasetError, match="unversioned local file"):
        SearchParquetDataset(
            filepath=str(tmp_path / NAMES[0]), search_outputs=NAMES, version=Version(None, None)
        )


@pytest.mark.parametrize("pipeline", [create_tuning, create_regression])
def test_the_catalog_saves_run_trials_outputs_as_one_set_of_exactly_those_files(
    project_root, pipeline
):
    """A set that names a file no output saves would never be moved into place."""
    conf = OmegaConfigLoader(str(project_root / "conf"), base_env="base", default_run_env="local")[
        "catalog"
    ]
    (run_trials,) = [node for node in pipeline().nodes if node.name.endswith("run_trials")]
    entries = [conf[name] for name in run_trials.outputs]
    files = sorted(Path(entry["filepath"]).name for entry in entries)

    for entry in entries:
        assert entry["type"].startswith("spark_lgbm_tuning.datasets.search_outputs.Search")
        assert sorted(entry["search_outputs"]) == files
    assert len({Path(entry["filepath"]).parent for entry in entries}) == 1
