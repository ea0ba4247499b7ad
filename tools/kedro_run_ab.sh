#!/usr/bin/env bash
# Side-by-side `kedro run` timings of two revisions, each run in a fresh `git archive` copy
# (no trial store to resume from, no MLflow store), with this checkout's .venv.
#
#   bash tools/kedro_run_ab.sh default OLD NEW [REPEATS]   the default `kedro run`, interleaved
#   bash tools/kedro_run_ab.sh reporting OLD NEW           `--to-nodes run_trials`
#       then `--pipelines reporting` at the medium size (100k x 100, 32 trials of 300 fixed
#       rounds): the search's wall (tuning_run_info.wall_s) and the reporting command's wall
#
# Prints one line per run; copies and logs go to $OUT (default: a fresh temporary folder).
set -euo pipefail
mode=${1:?default|reporting}; old=${2:?old revision}; new=${3:?new revision}; repeats=${4:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$(mktemp -d -t kedro-run-ab.XXXXXX)}; mkdir -p "$out"
MEDIUM="data_generation.n_samples=100000,data_generation.n_features=100,tuning.num_boost_round=300,tuning.early_stopping_rounds=0"

fresh() {  # fresh copy of revision $1 in $2
  rm -rf "$2"; mkdir -p "$2"; git -C "$root" archive "$1" | tar -x -C "$2"
}
timed() {  # seconds `kedro run ARGS` takes in $1 (log $2)
  local dir=$1 log=$2; shift 2
  local start; start=$(date +%s.%N)
  (cd "$dir" && PYTHONPATH="$dir/src" "$root/.venv/bin/kedro" run "$@" >"$log" 2>&1)
  echo "$(date +%s.%N) - $start" | bc
}
load() { cut -d' ' -f1 /proc/loadavg; }

if [ "$mode" = default ]; then
  for i in $(seq "$repeats"); do
    for rev in "$old" "$new"; do
      fresh "$rev" "$out/copy-$rev"
      echo "$rev run$i $(timed "$out/copy-$rev" "$out/$rev-$i.log") s load=$(load)"
    done
  done
else
  for rev in "$old" "$new"; do
    fresh "$rev" "$out/copy-$rev"
    tuning=$(timed "$out/copy-$rev" "$out/$rev-tuning.log" --to-nodes run_trials --params "$MEDIUM")
    reporting=$(timed "$out/copy-$rev" "$out/$rev-reporting.log" --pipelines reporting --params "$MEDIUM")
    search=$("$root/.venv/bin/python" -c "import json,sys; print(round(json.load(open(sys.argv[1]))['wall_s'], 1))" "$out/copy-$rev/data/07_model_output/tuning_run_info.json")
    echo "$rev search ${search} s (tuning command ${tuning} s), reporting command ${reporting} s: $(echo "scale=3; $reporting / $search" | bc) of the search, load=$(load)"
  done
fi
