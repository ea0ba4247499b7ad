"""The report page's frame: HTML template, style, the leaderboard's sort script, and the plotly
figures embedded with plotly.js inlined once, so the file works offline and stays one file.
"""

from __future__ import annotations

import html
from string import Template

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

# Click a header: sort by that column, again: the other way. Numbers sort by their data-value,
# text alphabetically; empty cells always last.
SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.dataset.order !== "asc";
      table.querySelectorAll("thead th").forEach(function (other) { delete other.dataset.order; });
      th.dataset.order = ascending ? "asc" : "desc";
      var body = table.tBodies[0];
      var key = function (row) {
        var cell = row.cells[column];
        return cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent;
      };
      var rows = Array.from(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === "" || x === "—") { return 1; }
        if (y === "" || y === "—") { return -1; }
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
nav a { margin-right: 1em; }
.subtitle { color: #666; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[data-order="asc"]::after { content: " ▲"; }
table.sortable th[data-order="desc"]::after { content: " ▼"; }
td.text, th.text { text-align: left; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
td pre { margin: 0; padding: 0.3em; white-space: pre-wrap; max-width: 60em; }
.wide { overflow-x: auto; }
.columns { display: flex; flex-wrap: wrap; gap: 2em; }
figure { margin: 1.5em 0; }
figcaption { color: #555; font-size: 0.9em; }
"""

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>$style</style>
<script type="text/javascript">$plotlyjs</script>
</head>
<body>
<h1>$title</h1>
<p class="subtitle">$subtitle</p>
<nav><a href="#leaderboard">Leaderboard</a><a href="#per-fold">Per fold</a>
<a href="#best">Best combination</a><a href="#search">Search</a><a href="#run">Run</a>
<a href="#data">Data</a><a href="#failed">Failed trials</a></nav>

<h2 id="leaderboard">Leaderboard (top $top_n of $n_combinations)</h2>
<p>$ranking_rule Click a column header to sort.</p>
$leaderboard

<h2 id="per-fold">Per-fold $primary of the top $top_n_folds</h2>
$per_fold

<h2 id="best">Best combination</h2>
$best_figures
<h3>Best parameters</h3>
<p>The <code>tuning:</code> block holds the winning combination as fixed parameters and the
learned number of rounds: paste it into <code>conf/base/parameters_tuning.yml</code> and drop the
names it fixes from <code>tuning.grid</code>.</p>
<pre>$best_params</pre>
<h3>Refit model</h3>
$refit

<h2 id="search">Search</h2>
$search_space
$search_figures

<h2 id="run">Run</h2>
<div class="columns">
<div><h3>When and where</h3>$run_facts<h3>Trials</h3>$outcomes</div>
<div><h3>Code and environment</h3>$code_and_env</div>
</div>
$run_figures

<h2 id="data">Data and folds</h2>
$data_summary
<h3>Data fingerprints (tuning_results)</h3>
$fingerprints
$folds

<h2 id="failed">Failed trials</h2>
$failed
<script type="text/javascript">$sort_js</script>
</body>
</html>
"""
)


def figure_html(name: str, figure: go.Figure, caption: str) -> str:
    """One figure as a <figure> with a plotly div; plotly.js itself is in the page head."""
    div = pio.to_html(
        figure,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"{name}_figure",
        config={"displaylogo": False, "responsive": True},
    )
    return f'<figure id="{name}">{div}<figcaption>{html.escape(caption)}</figcaption></figure>'


def page(**sections: str) -> str:
    """The whole page: `sections` filled in, plotly.js and the sort script inlined."""
    return PAGE.substitute(style=STYLE, plotlyjs=get_plotlyjs(), sort_js=SORT_JS, **sections)
