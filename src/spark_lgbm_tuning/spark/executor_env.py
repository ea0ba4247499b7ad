"""The executors' Python environment, shipped with the job instead of installed on the workers.

`kedro pack-executor-env` (cli.py) builds it, the way PySpark's package-management guide does: a
fresh venv with only the distributions the executor side imports (`EXECUTOR_PACKAGE` and the
project modules it imports, read from their source, plus what pyspark's own Python worker imports
for Arrow jobs), each pinned to the version installed on the driver, and the project's own wheel
(installed without its dependencies), packed by venv-pack into one archive. pyspark is not in it:
every executor puts its Spark's `python/lib/pyspark.zip` and py4j on its Python workers' path.

A run ships it through config: `spark.archives: <archive>#environment` and
`spark.pyspark.python: ./environment/bin/python` (conf/shipped/spark.yml); under Spark Connect
the session adds it with `addArtifacts(archive=True)` instead (spark/session.py).
`check_archives` refuses, before any JVM starts, an archive that does not exist. A relative
`spark.archives` is the project's, wherever `kedro run` starts (`spark_yml.in_project`).

Driver side only: nothing here is imported on the executors.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import logging
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import venv_pack

from spark_lgbm_tuning import executor
from spark_lgbm_tuning.vocabulary.errors import ExplainedError, SparkConfigError

logger = logging.getLogger(__name__)

# The code a Spark task runs: this package and the project modules it imports (spark_lgbm_tuning).
EXECUTOR_PACKAGE = executor.__name__
PROJECT_PACKAGE = EXECUTOR_PACKAGE.partition(".")[0]
# On every executor already: Spark puts its python/lib/pyspark.zip and py4j zip on the path.
SPARK_PROVIDED = frozenset({"pyspark", "py4j"})
# pyspark's own Python worker imports these for Arrow batches (mapInPandas under Spark Connect).
PYSPARK_WORKER_IMPORTS = frozenset({"pandas", "pyarrow"})
DEFAULT_ARCHIVE = Path("dist/executor-env.tar.gz")
PACK_COMMAND = "kedro pack-executor-env"
ARCHIVES_KEY = "spark.archives"
PYTHON_KEY = "spark.pyspark.python"
# Under Spark Connect: the Python of the session's UDFs and mapInPandas (a runtime setting).
CONNECT_PYTHON_KEY = "spark.sql.execution.pyspark.python"
PIP_TIMEOUT_S = 900
# The venv's interpreter: the driver's minor version, as PySpark requires on both sides.
PYTHON_MINOR = f"{sys.version_info[0]}.{sys.version_info[1]}"
# The packages' own test suites (~100 MB of 380 unpacked; pandas' alone 35 MB): no task imports
# them.
PACK_FILTERS = [("exclude", "*/tests/*")]


class ExecutorEnvError(ExplainedError, RuntimeError):
    """The executors' environment cannot be built; the message says which step failed."""


# ------------------------------------------------------------------------------ what to install
def executor_modules() -> list[str]:
    """The modules of EXECUTOR_PACKAGE, e.g. spark_lgbm_tuning.executor.trial."""
    return sorted(
        f"{EXECUTOR_PACKAGE}.{module.name}" for module in pkgutil.iter_modules(executor.__path__)
    )


def _imported_names(module: str) -> set[str]:
    """Every module name `module`'s source imports (function-level imports included)."""
    spec = importlib.util.find_spec(module)
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    names: set[str] = set()
    for statement in ast.walk(tree):
        if isinstance(statement, ast.Import):
            names.update(alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0 and statement.module:
            names.add(statement.module)
            # `from package import module` imports a module, not a name of the package.
            names.update(f"{statement.module}.{alias.name}" for alias in statement.names)
    return names


def _is_module(name: str) -> bool:
    """True when `name` is an importable module (not a class or function of one)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent is a module, not a package
        return False


def executor_imports() -> set[str]:
    """The top-level names of the third-party modules the executor side imports.

    Follows the project's own modules that EXECUTOR_PACKAGE imports, transitively; leaves out
    the standard library, the project itself and what Spark provides (SPARK_PROVIDED).
    """
    seen: set[str] = set()
    pending = [EXECUTOR_PACKAGE, *executor_modules()]
    third_party: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in _imported_names(module):
            top = name.partition(".")[0]
            if top == PROJECT_PACKAGE:
                if _is_module(name):
                    pending.append(name)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return third_party - SPARK_PROVIDED


def executor_requirements() -> list[str]:
    """`distribution==version` for every distribution the executors import, as on the driver."""
    distributions = importlib.metadata.packages_distributions()
    requirements = set()
    for name in sorted(executor_imports() | PYSPARK_WORKER_IMPORTS):
        if name not in distributions:
            raise ExecutorEnvError(
                f"The executor side imports {name}, which no installed distribution provides: "
                "install the project's dependencies on the driver first"
            )
        for distribution in distributions[name]:
            requirements.add(f"{distribution}=={importlib.metadata.version(distribution)}")
    return sorted(requirements)


def driver_constraints() -> list[str]:
    """`distribution==version` of everything installed on the driver: the executors'
    dependencies (scipy, joblib, ...) resolve to the driver's versions too. A distribution
    found twice on sys.path is pinned to the first, the one the driver imports."""
    pins: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            pins.setdefault(re.sub(r"[-_.]+", "-", name).lower(), f"{name}=={dist.version}")
    pins.pop(PROJECT_PACKAGE.replace("_", "-"), None)
    return sorted(pins.values())


# ------------------------------------------------------------------------------ building it
@dataclass(frozen=True)
class PackedEnv:
    """What `pack_executor_env` built."""

    archive: Path
    size_bytes: int
    seconds: float
    requirements: list[str]


# Not passed to pip and the venv's Python: `kedro` puts the project's src/ on PYTHONPATH, where
# an editable install's *.egg-info makes pip take the project as installed in the new venv too
# and skip it (the archive then lacks the project).
DRIVER_ONLY_ENV = ("PYTHONPATH", "PYTHONHOME")


def _run(command: list[str], what: str) -> None:
    logger.info("%s: %s", what, " ".join(command))
    env = {key: value for key, value in os.environ.items() if key not in DRIVER_ONLY_ENV}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False, env=env
    )
    if result.returncode != 0:
        raise ExecutorEnvError(
            f"{what} failed (exit {result.returncode}): {(result.stderr or result.stdout)[-2000:]}"
        )


def _project_copy(project_dir: Path, source_dir: Path, destination: Path) -> Path:
    """The files a wheel is built from (top-level files and the source folder), copied so that
    the build leaves nothing (build/, *.egg-info) in the project."""
    destination.mkdir()
    for path in project_dir.iterdir():
        if path.is_file():
            shutil.copy2(path, destination / path.name)
    shutil.copytree(
        source_dir,
        destination / source_dir.relative_to(project_dir),
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    return destination


def link_python(venv: Path, python_prefix: Path) -> None:
    """Point `venv`'s interpreter links and pyvenv.cfg at the Python 3.11 under `python_prefix`.

    venv-pack's own python_prefix rewrites `bin/python3.11 -> <home>/python3.11` into
    `<prefix>/bin/python3.113.11` (0.2.0: a prefix replace of `<home>/python`), hence this.
    """
    bin_dir = python_prefix / "bin"
    for link in (venv / "bin").iterdir():
        if link.is_symlink() and Path(os.readlink(link)).is_absolute():
            target = bin_dir / Path(os.readlink(link)).name
            link.unlink()
            link.symlink_to(target)
    config = venv / "pyvenv.cfg"
    lines = config.read_text(encoding="utf-8").splitlines()
    keys = {"home": str(bin_dir), "executable": str(bin_dir / f"python{PYTHON_MINOR}")}
    config.write_text(
        "\n".join(
            f"{key} = {keys[key]}" if (key := line.partition("=")[0].strip()) in keys else line
            for line in lines
        )
        + "\n",
        encoding="utf-8",
    )


def pack_executor_env(
    project_dir: Path,
    source_dir: Path,
    output: Path,
    python_prefix: str | None = None,
) -> PackedEnv:
    """Build the executors' environment archive at `output` (see the module doc).

    `python_prefix`: where the workers' Python 3.11 lives (e.g. /usr for /usr/bin/python3.11)
    when it is not the driver's base interpreter's prefix; the archive's `bin/python` links there.
    """
    if python_prefix and not Path(python_prefix).is_absolute():
        raise ExecutorEnvError(
            f"--python-prefix {python_prefix} is not an absolute path: give the prefix of the "
            f"workers' Python {PYTHON_MINOR}, e.g. /usr for /usr/bin/python{PYTHON_MINOR}"
        )
    started = time.perf_counter()
    requirements = executor_requirements()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    with tempfile.TemporaryDirectory(prefix="executor-env-") as scratch:
        work = Path(scratch)
        venv = work / "environment"
        _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], "Creating the venv")
        constraints = work / "constraints.txt"
        constraints.write_text("\n".join(driver_constraints()) + "\n", encoding="utf-8")
        into_venv = [*pip, "--python", str(venv / "bin" / "python"), "install"]
        _run(
            [*into_venv, "-c", str(constraints), *requirements],
            "Installing the executors' packages",
        )
        project = _project_copy(project_dir, source_dir, work / "project")
        wheels = work / "wheels"
        _run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(project)], "Building the wheel")
        _run([*into_venv, "--no-deps", *map(str, wheels.glob("*.whl"))], "Installing the project")
        if not list(venv.glob(f"lib/python{PYTHON_MINOR}/site-packages/{PROJECT_PACKAGE}/")):
            raise ExecutorEnvError(
                f"the project's wheel did not install {PROJECT_PACKAGE} into the executors' venv"
            )
        if python_prefix:
            link_python(venv, Path(python_prefix))
        output.parent.mkdir(parents=True, exist_ok=True)
        venv_pack.pack(
            prefix=str(venv),
            output=str(output),
            force=True,
            filters=PACK_FILTERS,
        )
    packed = PackedEnv(output, output.stat().st_size, time.perf_counter() - started, requirements)
    logger.info(
        "Executors' environment %s: %.0f MB in %.0f s (%s and the project)",
        output,
        packed.size_bytes / 1e6,
        packed.seconds,
        ", ".join(requirements),
    )
    return packed


# ------------------------------------------------------------------------------ using it
def archive_paths(archives: str | None) -> list[tuple[str, str]]:
    """(path, alias) of each local archive of a `spark.archives` value (`path#alias`, comma-
    separated); remote URIs (hdfs://, s3a://, ...) are the cluster's to fetch and left out."""
    found = []
    for entry in map(str.strip, (archives or "").split(",")):
        if not entry:
            continue
        parsed = urlparse(entry)
        if parsed.scheme not in ("", "file"):
            continue
        path = parsed.path if parsed.scheme else entry.partition("#")[0]
        found.append((path, parsed.fragment or Path(path).name))
    return found


def check_archives(archives: str | None) -> None:
    """Refuse, naming it and the command that builds it, a local archive that does not exist
    (Spark itself fails only once the context starts, with a Java stack trace).

    The command names the archive by its absolute path: `--output` is the project's, and a
    relative path here (a caller that did not resolve spark.yml's paths in the project) is the
    current folder's, so either form alone could build the archive somewhere else."""
    for path, _alias in archive_paths(archives):
        if not Path(path).is_file():
            absolute = Path(path).absolute()
            named = path if Path(path).is_absolute() else f"{path} ({absolute})"
            raise SparkConfigError(
                f"{ARCHIVES_KEY} names {named}, which does not exist: build it with "
                f"`{PACK_COMMAND} --output {absolute}` (docs/running.md, 'Shipping the code to "
                "the executors')"
            )
