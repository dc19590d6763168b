#!/usr/bin/env bash
# BatchAPI jobs against their limit: examples/batch-digits (scikit-learn logistic regression on
# the digits data set) over the same JSON-lines input files and the same batches, run
#   plain loop    the example's PythonPredictor called in a plain Python loop, one process
#                 (bench/batch_loop.py: predict per batch, then on_job_complete; the predictor's
#                 load is reported, not counted): the limit
#   workers=1/2   a Tern job with `workers: 1` / `workers: 2`: items/s over the job's
#                 started_at..ended_at (workers' start to the end of on_job_complete), and
#                 wall-clock from running `tern submit` to the job's ended_at (it reads and
#                 enqueues the input before it answers)
#   no-op         a predictor whose predict does nothing, batch_size 1, two job sizes: the slope
#                 of job time over batches is Tern's own per-batch cost (lease + done round trips)
# It prints a table of every run (job time, wall-clock, enqueue time, time to the first batch
# done, steady time per batch, CPU of tern serve and of the workers per batch) and, as the last
# lines, means over the rounds with ratios to the plain loop of the same run:
#   plain loop: N items/s
#   tern workers=1: N items/s (ratio X of the limit); wall-clock from submit: …; steady state: …
#   tern workers=2: N items/s (ratio Y of the limit); …
#   per-batch overhead: Z ms ((workers=1 job time - plain loop time) / batches, of which …)
#   per-batch overhead, no-op predictor: Z ms (slope over the two job sizes; CPU per batch …)
# "steady state" is the time between the first and the last batch done (no worker start, no
# on_job_complete). Job times are read from the job's rows in TERN_HOME/tern.db (the API's
# started_at and ended_at are whole seconds); each Tern job's outputs are checked (one file per
# batch, a summary counting every row). Results of a run: bench/batch.md.
#
# Usage: bench/batch.sh [--quick] [--rows N] [--files N] [--batch-size N] [--rounds N]
#                       [--noop-batches "SMALL LARGE"]
#   defaults: 20,000 rows in 4 files, batch size 100, 2 rounds (the order reverses in the second),
#   no-op jobs of 200 and 1,000 batches of 1 item. --quick: 1 round, no-op jobs of 100 and 400
#   batches (under 2 minutes with a debug build). Environment: ROWS, FILES, BATCH_SIZE, ROUNDS,
#   NOOP_BATCHES as the flags; TERN_BINARY as in common.sh.
# Needs: the README's set-up (.venv with scikit-learn), a release build of tern (built here if
# missing; TERN_BINARY overrides, e.g. TERN_BINARY=.build/debug/tern). Everything runs on
# 127.0.0.1, in a temporary TERN_HOME, on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROWS=${ROWS:-20000}; FILES=${FILES:-4}; BATCH_SIZE=${BATCH_SIZE:-100}; ROUNDS=${ROUNDS:-2}
NOOP_BATCHES=${NOOP_BATCHES:-"200 1000"}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ROUNDS=1; NOOP_BATCHES="100 400"; shift ;;
    --rows) ROWS=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    --batch-size) BATCH_SIZE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --noop-batches) NOOP_BATCHES=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
read -r NOOP_SMALL NOOP_LARGE <<<"$NOOP_BATCHES"
[ -n "${NOOP_LARGE:-}" ] && [ "$NOOP_LARGE" -gt "$NOOP_SMALL" ] || { echo "--noop-batches wants two sizes, small then large" >&2; exit 2; }
export BENCH_NO_WRK=1
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
WORK=$(mktemp -d /tmp/tern-bench-batch.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }

# A private copy of the binary: a rebuild during the run neither changes nor breaks it.
mkdir -p "$WORK/bin"; cp "$TERN" "$WORK/bin/tern"; TERN_LABEL=$TERN; TERN=$WORK/bin/tern
"$TERN" --version >/dev/null

# The example's project (predictor, tern.yaml, .ternignore) with its model; the input files
# outside it, as a user's would be.
PROJECT=$WORK/batch-digits; DATA=$WORK/data
mkdir -p "$PROJECT"
cp examples/batch-digits/predictor.py examples/batch-digits/tern.yaml examples/batch-digits/.ternignore "$PROJECT/"
echo "training and writing $ROWS rows in $FILES files…" >&2
"$PY" examples/batch-digits/train.py --rows "$ROWS" --files "$FILES" --out "$DATA" --model "$PROJECT/model.pkl" >&2
BATCHES=$(( (ROWS + BATCH_SIZE - 1) / BATCH_SIZE ))

# The no-op API and its inputs: one line per batch (batch_size 1), read from a file so that the
# job's stored submission stays small.
NOOP=$WORK/batch-noop; mkdir -p "$NOOP" "$WORK/noop-data"
cat >"$NOOP/predictor.py" <<'PYEOF'
class PythonPredictor:
    def __init__(self, config, job_spec):
        pass

    def predict(self, payload, batch_id):
        pass
PYEOF
cat >"$NOOP/tern.yaml" <<'YAML'
- name: batch-noop
  kind: BatchAPI
  predictor:
    type: python
    path: predictor.py
  compute:
    cpu: 500m
YAML
for n in $NOOP_SMALL $NOOP_LARGE; do
  "$PY" -c "import sys; sys.stdout.write(''.join(f'{i}\n' for i in range($n)))" >"$WORK/noop-data/$n.jsonl"
done

PORT=$(port); CONTROL_PORT=$(port)
export TERN_HOME=$WORK/tern-home
"$TERN" serve --home "$TERN_HOME" --port "$PORT" --control-port "$CONTROL_PORT" --python "$PY" >"$WORK/tern.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -f "$TERN_HOME/server.json" ] && break; sleep 0.1; done
"$TERN" deploy "$PROJECT/tern.yaml" >/dev/null
"$TERN" deploy "$NOOP/tern.yaml" >/dev/null

# job_times JOB_ID: created started ended first_done last_done (epoch seconds, from tern.db).
job_times() {
  "$PY" - "$TERN_HOME/tern.db" "$1" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
created, started, ended = db.execute("SELECT created_at, started_at, ended_at FROM job WHERE id = ?", (sys.argv[2],)).fetchone()
first, last = db.execute("SELECT MIN(finished_at), MAX(finished_at) FROM work_item WHERE queue = ? AND state = 'done'", (sys.argv[2],)).fetchone()
print(created, started, ended, first, last)
PYEOF
}

# cpu_ticks: "SERVER CHILDREN": CPU clock ticks (user + system) of tern serve itself, and of
# its children that have exited (the job workers, once reaped).
cpu_ticks() { awk '{print $14 + $15, $16 + $17}' "/proc/$SERVER_PID/stat"; }

# run_job API LABEL WORKERS INPUT_JSON CONFIG_JSON EXPECTED_BATCHES: submits, waits for
# `succeeded` (and for its workers to exit), and appends one row to the results.
RESULTS=$WORK/results.tsv
run_job() {
  local api=$1 label=$2 workers=$3 input=$4 config=$5 expected=$6 job id status t0 t1 answer cpu0 cpus cpu1
  job=$WORK/job-$label-$round.json
  echo "{\"workers\": $workers, $input, \"config\": $config}" >"$job"
  cpu0=$(cpu_ticks)
  t0=$(now)
  id=$("$TERN" submit "$api" "$job" -o json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
  cpus=$(cpu_ticks)  # the input is read and enqueued by now
  for _ in $(seq 1 1200); do
    answer=$(curl -sf "http://127.0.0.1:$PORT/$api?jobID=$id" || true)
    status="?"; [[ $answer =~ \"status\":\"([^\"]*)\" ]] && status=${BASH_REMATCH[1]}  # no process per poll
    case "$status" in
      succeeded) break ;;
      enqueuing|running|"?") sleep 0.5 ;;  # slow polls: each costs tern serve some CPU
      *) echo "$label: job $id ended as $status: $answer" >&2; exit 1 ;;
    esac
  done
  t1=$(now)
  [ "$status" = succeeded ] || { echo "$label: job $id did not finish in 10 minutes" >&2; exit 1; }
  for _ in $(seq 1 100); do  # the workers have exited (and been reaped: their CPU is counted)
    pgrep -f -- "--replica-id $id-" >/dev/null || break
    sleep 0.1
  done
  sleep 0.1
  cpu1=$(cpu_ticks)
  "$TERN" get "$api" "$id" -o json >"$WORK/get-$label-$round.json"
  "$PY" - "$WORK/get-$label-$round.json" "$expected" <<'PYEOF'
import json, sys
job, expected = json.load(open(sys.argv[1])), int(sys.argv[2])
if job["batches_succeeded"] != expected or job["batches_total"] != expected or job["items_succeeded"] != job["items_total"]:
    sys.exit(f"job {job['job_id']}: {job['batches_succeeded']}/{job['batches_total']} batches, "
             f"{job['items_succeeded']}/{job['items_total']} items; expected {expected} batches")
PYEOF
  echo -e "$round\t$label\t$workers\t$id\t$(job_times "$id" | tr ' ' '\t')\t$t0\t$t1\t$cpu0\t$cpus\t$cpu1" | tr ' ' '\t' >>"$RESULTS"
}

check_outputs() { # DIR: one file per batch and a summary counting every row
  "$PY" - "$1" "$BATCHES" "$ROWS" <<'PYEOF'
import json, pathlib, sys
folder, batches, rows = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
files = [p for p in folder.glob("*.json") if p.name != "summary.json"]
summary = json.loads((folder / "summary.json").read_text())
if len(files) != batches or summary["predictions"] != rows or summary["batches"] != batches:
    sys.exit(f"{folder}: {len(files)} batch files, summary {summary}; expected {batches} batches, {rows} predictions")
PYEOF
}

LOOP=$WORK/loop.tsv
DIGITS_INPUT="\"delimited_files\": {\"file_paths\": [\"file://$DATA/\"], \"includes\": [\"*.jsonl\"], \"batch_size\": $BATCH_SIZE}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq 1 "$ROUNDS"); do
  order="loop workers=1 workers=2 noop"; [ $((round % 2)) -eq 0 ] && order="noop workers=2 workers=1 loop"
  for mode in $order; do
    echo "round $round: $mode" >&2
    case "$mode" in
      loop)
        out=$WORK/out/loop-$round
        "$PY" bench/batch_loop.py "$PROJECT" "$DATA" "$BATCH_SIZE" "$out" model=model.pkl >"$WORK/loop.json"
        check_outputs "$out"
        echo -e "$round\t$(cat "$WORK/loop.json")" >>"$LOOP" ;;
      workers=*)
        w=${mode#workers=}; out=$WORK/out/w$w-$round
        run_job batch-digits "workers=$w" "$w" "$DIGITS_INPUT" "{\"output_dir\": \"$out\"}" "$BATCHES"
        check_outputs "$out" ;;
      noop)
        for n in $NOOP_SMALL $NOOP_LARGE; do
          run_job batch-noop "noop-$n" 1 "\"delimited_files\": {\"file_paths\": [\"$WORK/noop-data/$n.jsonl\"], \"batch_size\": 1}" "{}" "$n"
        done ;;
    esac
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

build=release; case "$TERN_LABEL" in *debug*) build="debug build: Tern's own costs are higher than a release build's" ;; esac
echo "batch-digits (LogisticRegression), $ROWS rows in $FILES files, batch_size $BATCH_SIZE ($BATCHES batches), $ROUNDS round(s), $(nproc) CPUs; tern: $TERN_LABEL ($build)"
"$PY" - "$RESULTS" "$LOOP" "$ROWS" "$BATCHES" "$NOOP_SMALL" "$NOOP_LARGE" "$(getconf CLK_TCK)" <<'PYEOF'
import json, statistics, sys
results, loop_file, rows, batches, small, large, tick = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
mean = statistics.mean
loops = [json.loads(line.split("\t", 1)[1]) for line in open(loop_file)]
jobs = {}
for line in open(results):
    rnd, label, workers, job, created, started, ended, first, last, t0, t1, s0, c0, ss, cs, s1, c1 = line.rstrip("\n").split("\t")
    created, started, ended, first, last, t0, t1 = map(float, (created, started, ended, first, last, t0, t1))
    n = batches if label.startswith("workers") else int(label.split("-")[1])
    jobs.setdefault(label, []).append({
        "enqueue_cpu": (int(ss) - int(s0)) / tick,
        "server_cpu": (int(s1) - int(ss)) / tick / n, "worker_cpu": (int(c1) - int(c0)) / tick / n,
        "round": int(rnd), "job": job, "seconds": ended - started, "wall": ended - t0,
        "enqueue": started - created, "startup": first - started,
        "steady": (last - first) / (batches - 1) if label.startswith("workers") and batches > 1 else None})
loop_s = mean(l["seconds"] for l in loops)
limit = rows / loop_s

print(f"{'mode':<15} {'round':>5} {'items/s':>9} {'job s':>7} {'wall s':>7} {'enqueue s':>9} {'to 1st done s':>13}"
      f" {'steady ms/batch':>15} {'enqueue CPU s':>13} {'CPU ms/batch: server':>20} {'workers':>7}")
for l in loops:
    print(f"{'plain loop':<15} {'':>5} {rows / l['seconds']:>9.0f} {l['seconds']:>7.3f} {'':>7} {'':>9} {l['load_seconds']:>13.2f}"
          f" {l['seconds'] / batches * 1000:>15.2f}")
def row(name, j, items):
    steady = f"{j['steady'] * 1000:.2f}" if j["steady"] is not None else ""
    print(f"{name:<15} {j['round']:>5} {items / j['seconds']:>9.0f} {j['seconds']:>7.3f} {j['wall']:>7.3f} {j['enqueue']:>9.3f}"
          f" {j['startup']:>13.2f} {steady:>15} {j['enqueue_cpu']:>13.2f} {j['server_cpu'] * 1000:>20.2f} {j['worker_cpu'] * 1000:>7.2f}")
for label in ("workers=1", "workers=2"):
    for j in sorted(jobs.get(label, []), key=lambda j: j["round"]):
        row("tern " + label, j, rows)
for n in (small, large):
    for j in sorted(jobs.get(f"noop-{n}", []), key=lambda j: j["round"]):
        row(f"no-op {n}x1", j, n)
print("(items/s, job s: started_at..ended_at; wall s: from running tern submit to ended_at; enqueue s: created_at to"
      " started_at; to 1st done s: workers' start to the first batch done (plain loop: import + __init__, not"
      " counted in its items/s); steady: time between batches done, first to last; enqueue CPU: tern serve's"
      " while tern submit ran; CPU ms/batch: tern serve's own after that, and the workers' (start included),"
      " per batch)")

print(f"plain loop: {limit:.0f} items/s")
summary = {}
for label in ("workers=1", "workers=2"):
    runs = jobs[label]
    seconds, wall = mean(j["seconds"] for j in runs), mean(j["wall"] for j in runs)
    summary[label] = seconds
    steady = rows / batches / mean(j["steady"] for j in runs)
    print(f"tern {label}: {rows / seconds:.0f} items/s (ratio {rows / seconds / limit:.3f} of the limit); "
          f"wall-clock from submit: {rows / wall:.0f} items/s ({wall:.2f} s, ratio {rows / wall / limit:.3f}); "
          f"steady state: {steady:.0f} items/s (ratio {steady / limit:.3f})")
per_batch = (summary["workers=1"] - loop_s) / batches * 1000
startup = mean(j["startup"] for j in jobs["workers=1"])
steady_overhead = (mean(j["steady"] for j in jobs["workers=1"]) - loop_s / batches) * 1000
print(f"per-batch overhead: {per_batch:.2f} ms ((workers=1 job time - plain loop time) / {batches} batches, "
      f"of which the worker's start: {startup * 1000 / batches:.2f} ms; steady state: {steady_overhead:.2f} ms)")
t_small, t_large = mean(j["seconds"] for j in jobs[f"noop-{small}"]), mean(j["seconds"] for j in jobs[f"noop-{large}"])
noop = jobs[f"noop-{large}"]
print(f"per-batch overhead, no-op predictor: {(t_large - t_small) / (large - small) * 1000:.2f} ms "
      f"(batch_size 1: ({t_large:.2f} s for {large} batches - {t_small:.2f} s for {small}) / {large - small}; "
      f"CPU per batch: tern serve {mean(j['server_cpu'] for j in noop) * 1000:.2f} ms, "
      f"worker {mean(j['worker_cpu'] for j in noop) * 1000:.2f} ms)")
PYEOF
