"""The project's config loader: Kedro's `OmegaConfigLoader`, with parameters that layer as documented.

Parameters are soft-merged: conf/base, then the run's env (conf/local by default), then
`kedro run --params`, each layer overriding single keys of the ones below. On top of Kedro's merge:

- A grid axis is replaced whole by a higher layer, in any of its forms: a list of values, a range
  `{low: .., high: .., log: .., int: ..}` or the same range as a one-item list `[{low: ..}]`.
  OmegaConf cannot merge a mapping over a list (a ~350-line "Cannot merge incompatible container
  types"), so each range is read as its one-item list before Kedro merges the layers.
- `grid_replace: true` beside a layer's `grid` makes that grid the whole grid: the axes of the
  layers below are dropped (one axis is dropped with `<axis>: null`).
- Errors are one line naming the file and the key: a grid axis of the wrong form, a range with
  bad ends, a key that is a mapping in one file and a list in another, a name in both `fixed` and
  `grid` of the merged block, a misspelt key of a tuning block (`tuning.serach`, at any depth of
  its settings) and a `--params` key that names no parameter (both with the closest name).

Kedro reads conf/base and the run's env only: under `--env connect` the parameter files of the
default env (conf/local) are not read. `unread_parameter_files` names them (SkippedConfigHooks
warns of them).
"""

from __future__ import annotations

import copy
import difflib
import glob
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf import DictConfig, ListConfig, OmegaConf
from pydantic import BaseModel

from spark_lgbm_tuning.pipelines.tuning import GRID_REPLACE, TuningParams, parsed_range
from spark_lgbm_tuning.vocabulary.errors import ConfigError

PARAMETERS = "parameters"
RUNTIME = "--params"
# The key of a search's parameters (`params:tuning`, `params:<namespace>.tuning`).
TUNING = "tuning"
FIXED, GRID = "fixed", "grid"
# The suffixes of the files Kedro's OmegaConfigLoader reads (its `_is_valid_config_path`).
CONFIG_SUFFIXES = (".yml", ".yaml", ".json")
# `${runtime_params:name}` in any config file: a --params name that is no parameter.
_RUNTIME_REFERENCE = re.compile(r"\$\{\s*runtime_params:\s*([A-Za-z_][\w-]*)")

Layer = tuple[str, Any]  # (where it comes from, its config: DictConfig or plain dict)


class ProjectConfigLoader(OmegaConfigLoader):
    """`OmegaConfigLoader` whose parameters layer as the module docstring says."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Which layer set each tuning block's fixed and grid names (for the refusal of a name in
        # both), filled when the parameters are read.
        self._sources: dict[tuple[str, ...], str] = {}
        super().__init__(*args, **kwargs)

    def __getitem__(self, key: str) -> dict[str, Any]:
        config = super().__getitem__(key)
        if key == PARAMETERS and self._sources:
            _check_fixed_and_grid(config, self._sources)
        return config

    def _read_raw_config(self, key: str) -> Any:
        """Kedro's per-file configs; for parameters, checked and prepared for its merge."""
        raw = super()._read_raw_config(key)
        if key == PARAMETERS:
            base_configs, env_configs = raw[0], raw[1]
            self.runtime_params = copy.deepcopy(dict(self.runtime_params or {}))
            layers = [
                *((self._label(path), config) for path, config in sorted(base_configs.items())),
                *((self._label(path), config) for path, config in sorted(env_configs.items())),
                (RUNTIME, self.runtime_params),
            ]
            self._check_runtime_names(layers)
            self._sources = prepare_parameters(layers)
        return raw

    def unread_parameter_files(self) -> list[str]:
        """The parameter files of the default run env (conf/local) that this loader does not
        read because its env is another one (`--env connect`), as `conf/local/<file>`.

        Found with Kedro's own `parameters` patterns, hidden files left out as Kedro does.
        """
        default = self.default_run_env
        folder = Path(self.conf_source) / default
        if not default or (self.env or default) == default or not folder.is_dir():
            return []
        found = {
            folder / name
            for pattern in self.config_patterns[PARAMETERS]
            for name in glob.glob(pattern, root_dir=folder, recursive=True)
        }
        return sorted(
            self._label(path) for path in found if path.is_file() and path.suffix in CONFIG_SUFFIXES
        )

    def _label(self, path: Path) -> str:
        """`conf/<env>/<file>` for a config file of this loader."""
        root = Path(self.conf_source).resolve()
        try:
            return f"{root.name}/{Path(path).resolve().relative_to(root).as_posix()}"
        except ValueError:
            return str(path)

    def _check_runtime_names(self, layers: list[Layer]) -> None:
        """Refuse a --params top-level key that no parameter file has, naming the closest one."""
        known = {str(name) for _, config in layers[:-1] for name in config}
        unknown = set(self.runtime_params) - known
        if unknown:
            known |= self._runtime_references()
        for name in sorted(unknown - known):
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"the parameters are {sorted(known)}"
            raise ConfigError(
                f"{RUNTIME} key '{name}' is no parameter of this project ({hint}); "
                "nothing would read it"
            )

    def _runtime_references(self) -> set[str]:
        """Names config files read with `${runtime_params:name}` (not parameters themselves)."""
        root = Path(self.conf_source)
        if not root.is_dir():
            return set()
        return {
            match
            for path in root.rglob("*")
            if path.suffix in {".yml", ".yaml", ".json"} and path.is_file()
            for match in _RUNTIME_REFERENCE.findall(path.read_text(errors="replace"))
        }


def _tuning_blocks(config: Any) -> Iterator[tuple[str, ...]]:
    """Paths of the search blocks in one config: `tuning` and `<namespace>.tuning`."""
    config = _plain(config)
    if not isinstance(config, Mapping):
        return
    if isinstance(config.get(TUNING), Mapping):
        yield (TUNING,)
    for name, value in config.items():
        if isinstance(value, Mapping) and isinstance(value.get(TUNING), Mapping):
            yield (str(name), TUNING)


def _at(config: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        config = config[part]
    return config


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _plain(value: Any) -> Any:
    """A config node as plain Python values, interpolations left unresolved."""
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=False)
    return value


def _is_interpolation(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _range_of(axis: Any) -> Mapping | None:
    """The range of a grid axis written as `{low: ..}` or `[{low: ..}]`; None for values."""
    if isinstance(axis, Mapping):
        return axis
    if isinstance(axis, list) and len(axis) == 1 and isinstance(axis[0], Mapping):
        return axis[0]
    return None


def _prepared_axis(label: str, block: tuple[str, ...], name: str, axis: Any) -> Any:
    """A grid axis as Kedro's merge can replace it: a list (a range as its one-item list)."""
    key = _dotted((*block, GRID, str(name)))
    if axis is None or _is_interpolation(axis):
        return axis
    found = _range_of(axis)
    if found is not None:
        if not any(_is_interpolation(value) for value in found.values()):
            try:
                parsed_range(str(name), found)
            except ValueError as error:
                raise ConfigError(f"{label}: {_dotted(block)}.{error}") from None
        return axis if isinstance(axis, list) else [dict(found)]
    if not isinstance(axis, list):
        raise ConfigError(
            f"{label}: {key} must be a list of values (e.g. [{axis!r}]) or a range "
            f"{{low: .., high: .., log: .., int: ..}}, got {type(axis).__name__} {axis!r}"
        )
    return axis


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (also as `Model | None`), if any."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _check_setting_names(
    label: str, path: tuple[str, ...], settings: Mapping, model: type[BaseModel]
) -> None:
    """Refuse a key of a tuning block (or of its nested settings, `search.round_pruning`) that
    its model lacks, naming the file and the closest key.

    Kedro's validation would refuse it too, with pydantic's 'Extra inputs are not permitted',
    naming neither the file nor the key meant; a grid's or fixed's keys are LightGBM's names,
    which the model checks with LightGBM's own table.
    """
    # Called after _replace_grids, which took `grid_replace` out of every block.
    known = sorted(model.model_fields)
    for name, value in settings.items():
        field = model.model_fields.get(str(name))
        if field is None:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"its keys are {known}"
            raise ConfigError(
                f"{label}: {_dotted((*path, str(name)))} is no key of {_dotted(path)} ({hint})"
            )
        nested = _model_of(field.annotation)
        if nested is not None and isinstance(value, Mapping):
            _check_setting_names(label, (*path, str(name)), value, nested)


def _replace_grids(layers: list[Layer]) -> None:
    """Apply `grid_replace: true`: drop the grid of every layer below; remove the flag."""
    for index, (label, config) in enumerate(layers):
        for block in list(_tuning_blocks(config)):
            settings = _at(config, block)
            if GRID_REPLACE not in settings:
                continue
            replace = _plain(settings)[GRID_REPLACE]
            del settings[GRID_REPLACE]
            if not isinstance(replace, bool):
                raise ConfigError(
                    f"{label}: {_dotted((*block, GRID_REPLACE))} must be true or false, "
                    f"got {replace!r}"
                )
            if not replace:
                continue
            if GRID not in settings:
                raise ConfigError(
                    f"{label}: {_dotted((*block, GRID_REPLACE))} is true but {label} sets no "
                    f"{_dotted((*block, GRID))} to replace the lower layers' with"
                )
            for _, lower in layers[:index]:
                if block in set(_tuning_blocks(lower)) and GRID in _at(lower, block):
                    del _at(lower, block)[GRID]


def _check_container_kinds(layers: list[Layer]) -> None:
    """Refuse a key that is a mapping in one layer and a list in another (no merge exists)."""
    seen: dict[tuple[str, ...], tuple[str, str]] = {}

    def walk(label: str, value: Any, path: tuple[str, ...]) -> None:
        kind = (
            "mapping" if isinstance(value, Mapping) else "list" if isinstance(value, list) else None
        )
        if kind is None:
            return
        first = seen.setdefault(path, (kind, label))
        if first[0] != kind:
            raise ConfigError(
                f"{_dotted(path)} is a {first[0]} in {first[1]} but a {kind} in {label}, and "
                "one cannot be merged over the other: give it the same form in both"
            )
        if kind == "mapping":
            for name, item in value.items():
                walk(label, item, (*path, str(name)))

    for label, config in layers:
        walk(label, _plain(config), ())


def prepare_parameters(layers: list[Layer]) -> dict[tuple[str, ...], str]:
    """Check and rewrite (in place) the parameter layers, lowest first, for Kedro's soft merge.

    Returns where each tuning block's fixed and grid names were last set (not null).
    """
    _replace_grids(layers)
    sources: dict[tuple[str, ...], str] = {}
    for label, config in layers:
        for block in _tuning_blocks(config):
            settings = _plain(_at(config, block))
            _check_setting_names(label, block, settings, TuningParams)
            grid = settings.get(GRID)
            if isinstance(grid, Mapping):
                for name, axis in grid.items():
                    prepared = _prepared_axis(label, block, str(name), axis)
                    if prepared is not axis:
                        _at(config, block)[GRID][name] = prepared
            for section in (FIXED, GRID):
                names = settings.get(section)
                if isinstance(names, Mapping):
                    for name, value in names.items():
                        if value is not None:
                            sources[(*block, section, str(name))] = label
    _check_container_kinds(layers)
    return sources


def _check_fixed_and_grid(config: Mapping[str, Any], sources: dict[tuple[str, ...], str]) -> None:
    """Refuse a name in both fixed and grid of a merged block, naming the file of each."""
    for block in _tuning_blocks(config):
        settings = _at(config, block)
        fixed, grid = settings.get(FIXED), settings.get(GRID)
        if not isinstance(fixed, Mapping) or not isinstance(grid, Mapping):
            continue
        both = sorted(
            name for name in set(fixed) & set(grid) if fixed[name] is not None and grid[name]
        )
        if not both:
            continue
        name = both[0]
        fixed_from = sources.get((*block, FIXED, name), "?")
        grid_from = sources.get((*block, GRID, name), "?")
        prefix = _dotted(block)
        raise ConfigError(
            f"{name} is in both {prefix}.fixed ({fixed_from}) and {prefix}.grid ({grid_from}); "
            f"keep one: drop the axis with `{prefix}.grid.{name}: null`, or replace the whole "
            f"grid with `{prefix}.{GRID_REPLACE}: true` beside the new grid, in {fixed_from}"
        )
