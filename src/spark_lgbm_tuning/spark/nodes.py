"""Which nodes of a run need the SparkSession: a node tagged `spark`, or one that reads or writes a
kedro-datasets Spark dataset. `hooks.SparkHooks` starts the session for those only.
"""

from __future__ import annotations

from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

# A node tagged `spark` needs the session even when none of its datasets is a Spark dataset
# (e.g. a node that returns a Spark DataFrame into memory, or calls SparkSession itself).
SPARK_TAG = "spark"
# kedro-datasets' Spark datasets (SparkDatasetV2, SparkHiveDataset, SparkJDBCDataset, ...) all
# live under this module and all call SparkSession.builder.getOrCreate() on load and save.
SPARK_DATASET_MODULE = "kedro_datasets.spark."


def is_spark_dataset(catalog: DataCatalog, name: str) -> bool:
    """True when `name` resolves (entry or factory) to a kedro-datasets Spark dataset."""
    dataset_type = catalog.get_type(name)
    return dataset_type is not None and dataset_type.startswith(SPARK_DATASET_MODULE)


def needs_spark(node: Node, catalog: DataCatalog) -> bool:
    """True when `node` is tagged `spark` or reads or writes a Spark dataset of `catalog`."""
    return SPARK_TAG in node.tags or any(
        is_spark_dataset(catalog, name) for name in [*node.inputs, *node.outputs]
    )


def spark_node_names(pipeline: Pipeline, catalog: DataCatalog) -> set[str]:
    """The names of the nodes of `pipeline` that need the SparkSession (see `needs_spark`)."""
    return {node.name for node in pipeline.nodes if needs_spark(node, catalog)}
