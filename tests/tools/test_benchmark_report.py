"""The benchmark's figures: ratios from medians, the markdown table."""

from __future__ import annotations

from tools import benchmark_report


def test_ratios_are_medians_over_the_limit_and_over_ours():
    methods = {
        "ours": benchmark_report.summarise([3.0, 2.0, 9.0]),
        "reference": benchmark_report.summarise([6.0]),
        "gridsearch": {},
        "limit": benchmark_report.summarise([1.5, 1.5]),
    }
    ratios = benchmark_report.ratios(methods, n_trials=12)

    assert ratios == {
        "ratio_to_limit": 2.0,
        "speedup_vs_reference": 2.0,
        "speedup_vs_gridsearch": None,
    }
    assert methods["ours"]["trials_per_minute"] == 240.0
    assert methods["reference"]["ours_speedup"] == 2.0
    assert methods["limit"]["ratio_to_limit"] == 1.0


def test_the_table_names_every_method_and_skips_empty_ones():
    methods = {
        "ours": benchmark_report.summarise([2.0]),
        "gridsearch": {},
        "limit": benchmark_report.summarise([1.0]),
    }
    benchmark_report.ratios(methods, n_trials=4)
    entry = {
        "n_trials": 4,
        "num_boost_round": 30,
        "early_stopping_rounds": None,
        "methods": methods,
    }
    table = benchmark_report.table_markdown({"modes": {"fixed": entry}})

    assert "### fixed (4 trials, num_boost_round 30, early_stopping_rounds None)" in table
    assert "| ours | 2.00 | 2.0 | 120.0 | 2.000 |  |" in table
    assert "| limit | 1.00 | 1.0 | 240.0 | 1.000 |  |" in table
    assert "gridsearch" not in table
