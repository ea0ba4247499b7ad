"""The project's layers, read from the source: a pipeline's modules are its own.

Code outside `pipelines/` (tracking, the hooks, the config loader, the registry) uses a pipeline
through what its package exports (`pipelines/<name>/__init__.py`), and the bottom layers
(executor, spark, datasets, vocabulary) import no pipeline at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "spark_lgbm_tuning"
PIPELINES = "spark_lgbm_tuning.pipelines"
BOTTOM_LAYERS = ("executor", "spark", "datasets", "vocabulary")


def _imports(path: Path) -> list[str]:
    """The absolute module names `path` imports from (a function's imports too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def _modules_outside(folder: str) -> list[Path]:
    return [path for path in PACKAGE.rglob("*.py") if path.relative_to(PACKAGE).parts[0] != folder]


def test_only_a_pipelines_package_is_imported_from_outside_the_pipelines():
    reaching_in = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in _modules_outside("pipelines")
        for name in _imports(path)
        if name.startswith(f"{PIPELINES}.") and len(name.split(".")) > 3
    }
    assert not reaching_in, sorted(reaching_in)


def test_the_bottom_layers_import_no_pipeline():
    upward = {
        f"{path.relative_to(PACKAGE)} imports {name}"
        for folder in BOTTOM_LAYERS
        for path in (PACKAGE / folder).rglob("*.py")
        for name in _imports(path)
        if name == PIPELINES or name.startswith(f"{PIPELINES}.")
    }
    assert not upward, sorted(upward)


def test_the_check_sees_an_import_of_a_pipelines_module(tmp_path):
    module = tmp_path / "hooks.py"
    module.write_text("def f():\n    from spark_lgbm_tuning.pipelines.tuning.params import X\n")
    assert _imports(module) == ["spark_lgbm_tuning.pipelines.tuning.params"]
