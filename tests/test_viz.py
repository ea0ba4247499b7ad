"""kedro-viz as a user meets it: the graph kedro-viz's API serves for this project.

The project is loaded the way `kedro viz run` / `kedro viz build` load it
(`kedro_viz.server.load_and_populate_data`), and the answers are those of its REST API
(`/api/pipelines/<id>`, `/api/nodes/<id>`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro_viz.api.rest.responses.nodes import get_node_metadata_response
from kedro_viz.api.rest.responses.pipelines import get_pipeline_response
from kedro_viz.data_access import data_access_manager
from kedro_viz.models.flowchart.nodes import GraphNodeType
from kedro_viz.server import load_and_populate_data

from tests.project_copy import bootstrapped, copy_project, scratch_project

# Kedro's data layers, in the order data flows through them.
KEDRO_LAYERS = (
    "raw",
    "intermediate",
    "primary",
    "feature",
    "model_input",
    "models",
    "model_output",
    "reporting",
)
PIPELINES = (
    "__default__",
    "data_generation",
    "tuning",
    "reporting",
    "tuning_regression",
    "reporting_regression",
)


def load_viz(project: Path) -> None:
    """Populate kedro-viz's repositories from `project`, as `kedro viz` does at start."""
    data_access_manager.reset_fields()
    with bootstrapped(project):
        load_and_populate_data(project)


class Records(logging.Handler):
    """Keeps every record it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def viz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, list[logging.LogRecord]]]:
    """The graph kedro-viz serves for each pipeline, and what kedro-viz logged while making them."""
    project = copy_project(tmp_path_factory.mktemp("viz") / "project")
    handler = Records()
    viz_logger = logging.getLogger("kedro_viz")
    viz_logger.addHandler(handler)
    try:
        load_viz(project)
        # Layers are sorted when a pipeline's graph is served: serve them all while listening.
        graphs = {pipeline_id: get_pipeline_response(pipeline_id) for pipeline_id in PIPELINES}
    finally:
        viz_logger.removeHandler(handler)
    yield graphs, handler.records
    data_access_manager.reset_fields()


@pytest.mark.parametrize("pipeline_id", PIPELINES)
def test_viz_shows_layers(viz, pipeline_id):
    """kedro-viz returns no layers at all when it finds a cycle among them."""
    graphs, _ = viz
    assert graphs[pipeline_id].layers, f"kedro-viz shows no layers for {pipeline_id}"


def test_default_pipeline_layers_are_in_kedro_order(viz):
    """The pipeline kedro-viz opens with joins generation, tuning and reporting: one chain."""
    graphs, _ = viz
    layers = graphs["__default__"].layers
    assert layers == [layer for layer in KEDRO_LAYERS if layer in layers]
    assert {"raw", "model_input", "models", "model_output", "reporting"} <= set(layers)


@pytest.mark.parametrize("pipeline_id", PIPELINES)
def test_every_node_writes_a_layer_no_earlier_than_it_reads(viz, pipeline_id):
    """The graph flows one way in Kedro's layer order (regression pipelines included).

    kedro-viz orders layers only where datasets connect them (the rest alphabetically), so this
    is checked on each node's edges.
    """
    graphs, _ = viz
    graph = graphs[pipeline_id]
    nodes = {node.id: node for node in graph.nodes}
    rank = {layer: index for index, layer in enumerate(KEDRO_LAYERS)}
    backwards = []
    for task in (node for node in graph.nodes if node.type == GraphNodeType.TASK):
        inputs = [nodes[edge.source] for edge in graph.edges if edge.target == task.id]
        outputs = [nodes[edge.target] for edge in graph.edges if edge.source == task.id]
        backwards += [
            (source.name, task.name, target.name)
            for source in inputs
            for target in outputs
            if source.layer is not None and rank[target.layer] < rank[source.layer]
        ]
    assert backwards == []


def test_no_circular_layer_warning(viz):
    _, records = viz
    messages = [record.getMessage() for record in records if record.levelno >= logging.WARNING]
    assert not [message for message in messages if "circular" in message.lower()]


@pytest.mark.parametrize("pipeline_id", PIPELINES)
def test_every_dataset_has_a_layer(viz, pipeline_id):
    """Including the regression.* entries and the datasets made by the `{name}_plot` factories."""
    graphs, _ = viz
    datasets = [node for node in graphs[pipeline_id].nodes if node.type == GraphNodeType.DATA]
    assert datasets
    assert [node.name for node in datasets if node.layer is None] == []


@pytest.mark.slow
def test_transcoded_tables_show_their_rows(spark, tmp_path, monkeypatch):
    """`kedro run` then kedro-viz: the metadata panel of each main table says how many rows it has.

    The tables are transcoded (`name@pandas` / `name@spark`): kedro-viz draws one node per name and
    shows its statistics (rows, columns, file size), which its dataset-stats hook records during
    the run into .viz/stats.json, under the name without `@...`. Only pandas DataFrames are
    counted (run_trials saves `tuning_results@pandas`, reporting loads it), and each run rewrites
    the file with the datasets that run touched.
    """
    small_run = {
        "data_generation": {"n_samples": 600, "n_features": 4},
        "tuning": {"grid": {"num_leaves": [7], "learning_rate": [0.1], "min_child_samples": [20]}},
    }
    with scratch_project(tmp_path / "project") as project:
        # The stats hook writes .viz/ under the project that contains the working directory.
        monkeypatch.chdir(project)
        with KedroSession.create(project_path=project, runtime_params=small_run) as session:
            session.run()
    n_folds = 4
    expected_rows = {
        "model_input": 600,
        "model_folds": None,  # one row per (fold, split, row): checked below
        "tuning_results": n_folds,  # one combination x folds
    }

    load_viz(project)
    try:
        graph = get_pipeline_response("__default__")
        nodes = {node.name: node for node in graph.nodes}
        stats = {name: get_node_metadata_response(nodes[name].id).stats for name in expected_rows}
        # Untranscoded tables get a table preview as well (`preview_args` in the catalog).
        previews = {
            name: get_node_metadata_response(nodes[name].id).preview
            for name in ("tuning_trials", "leaderboard")
        }
    finally:
        data_access_manager.reset_fields()

    for name, rows in expected_rows.items():
        assert stats[name], f"kedro-viz shows N/A rows for {name}"
        assert stats[name]["rows"] > 0 and stats[name]["columns"] > 0
        if rows is not None:
            assert stats[name]["rows"] == rows
    # Every data row is in one test part or one train part of some fold.
    assert stats["model_folds"]["rows"] > stats["model_input"]["rows"]
    assert len(previews["tuning_trials"]["data"]) == n_folds  # one trial per combination x fold
    assert len(previews["leaderboard"]["data"]) == 1
