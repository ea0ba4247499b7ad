"""ReportingParams: conf/base validates, each bad value names its range; Kedro validates
params:reporting and params:tuning from the node signatures before any node runs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from kedro.validation.exceptions import ParameterValidationError
from kedro.validation.parameter_validator import ParameterValidator
from pydantic import ValidationError

from spark_lgbm_tuning.pipelines.reporting import create_pipeline
from spark_lgbm_tuning.pipelines.reporting.nodes import rank_combinations
from spark_lgbm_tuning.pipelines.reporting.params import ReportingParams
from spark_lgbm_tuning.pipelines.tuning import create_pipeline as create_tuning_pipeline
from spark_lgbm_tuning.pipelines.tuning.params import TuningParams


def test_base_config_validates(project_root: Path):
    raw = yaml.safe_load((project_root / "conf/base/parameters_reporting.yml").read_text())
    assert ReportingParams.model_validate(raw["reporting"]) == ReportingParams()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"top_n": 0}, r"top_n\n.*greater than or equal to 1 \[.*input_value=0"),
        ({"tie_decimals": 16}, r"tie_decimals\n.*less than or equal to 15 \[.*input_value=16"),
        # The metric is tuning.primary_metric alone: a leftover reporting copy fails loudly.
        ({"primary_metric": "auc_roc"}, r"unknown key\(s\) \['primary_metric'\]"),
        # Column names are params:columns alone (parameters.yml): the old copies fail loudly.
        ({"target_column": "y"}, r"unknown key\(s\) \['target_column'\]"),
        ({"feature_prefix": "x_"}, r"unknown key\(s\) \['feature_prefix'\]"),
        ({"top_nn": 3}, r"unknown key\(s\) \['top_nn'\]; the allowed keys are \[.*'top_n'"),
    ],
)
def test_params_errors_name_the_parameter_and_its_range(override, message):
    with pytest.raises(ValidationError, match=message):
        ReportingParams.model_validate(override)


@pytest.fixture
def raw_params(project_root: Path) -> dict:
    """params:tuning and params:reporting as conf/base holds them."""
    conf = project_root / "conf/base"
    return {
        name: yaml.safe_load((conf / f"parameters_{name}.yml").read_text())[name]
        for name in ("tuning", "reporting")
    }


def test_kedro_validates_params_reporting_from_the_node_signatures(raw_params):
    validator = ParameterValidator({"reporting": create_pipeline()})
    validated = validator.validate_raw_params({**raw_params, "reporting": {"top_n": 3}})
    assert validated["reporting"] == ReportingParams(top_n=3)
    with pytest.raises(
        ParameterValidationError, match=r"(?s)'reporting'.*top_n.*greater than or equal to 1"
    ):
        validator.validate_raw_params({**raw_params, "reporting": {"top_n": 0}})


@pytest.mark.parametrize("scope", [("reporting",), ("tuning", "reporting")])
def test_params_tuning_is_the_same_model_whether_or_not_tuning_runs(scope, raw_params, caplog):
    """`kedro run --pipelines reporting` and the default run give the reporting nodes one type."""
    pipelines = {"tuning": create_tuning_pipeline(), "reporting": create_pipeline()}
    validator = ParameterValidator({name: pipelines[name] for name in scope})
    with caplog.at_level(logging.WARNING):
        validated = validator.validate_raw_params(raw_params)
    assert type(validated["tuning"]) is TuningParams
    assert not [r for r in caplog.records if "Conflicting type" in r.getMessage()]
    with pytest.raises(ParameterValidationError, match=r"(?s)'tuning'.*'rmse' does not apply"):
        validator.validate_raw_params(
            {**raw_params, "tuning": {**raw_params["tuning"], "primary_metric": "rmse"}}
        )


def test_overriding_tuning_primary_metric_reranks_the_report(results, raw_params):
    """`kedro run --params tuning.primary_metric=logloss`: the tuning and the ranking both move."""
    validator = ParameterValidator({"reporting": create_pipeline()})
    overridden = {**raw_params, "tuning": {**raw_params["tuning"], "primary_metric": "logloss"}}
    validated = validator.validate_raw_params(overridden)
    board, _ = rank_combinations(results, validated["tuning"], validated["reporting"])
    assert list(board.columns[2:4]) == ["logloss_mean", "logloss_std"]
    assert board["logloss_mean"].is_monotonic_increasing
