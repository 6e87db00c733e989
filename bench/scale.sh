#!/usr/bin/env bash
# bench/scale.sh: the scale run of docs/scale.md, on this machine.
#   1. one migration of N_TABLES (default 1,000) small PostgreSQL tables,
#      provision then copy with fanOut: 8 (one unit per table);
#   2. N_MIGRATIONS (default 100) migrations at once, each of
#      N_TABLES / N_MIGRATIONS of those tables into a second database.
# Both on their own Temporal dev server and two godwit-worker processes
# on one task queue (scale-out is Temporal's: more workers on the queue).
# Prints wall times, the largest history of any run (events and bytes,
# from `temporal workflow describe`), how many runs each migration took
# (continue-as-new), and each worker's peak RSS (VmHWM). No arguments;
# ROWS (rows per table, default 100) and the two counts above may be set.
# Needs PostgreSQL on 127.0.0.1:5432 (trust) and bin/temporal
# (./scripts/test.sh installs it). Not part of the normal test run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N_TABLES=${N_TABLES:-1000}
N_MIGRATIONS=${N_MIGRATIONS:-100}
ROWS=${ROWS:-100}
PG=${GODWIT_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
TEMPORAL=${GODWIT_TEMPORAL_BIN:-$ROOT/bin/temporal}
PORT=${GODWIT_BENCH_PORT:-17833}
QUEUE=scale
TMP=$(mktemp -d)
PIDS=()
SUFFIX=$(date +%s)
SRC=scale_src_$SUFFIX DST1=scale_dst1_$SUFFIX DST2=scale_dst2_$SUFFIX

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in "$SRC" "$DST1" "$DST2"; do psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

[ -x "$TEMPORAL" ] || { echo "no Temporal CLI at $TEMPORAL: run ./scripts/test.sh once, or set GODWIT_TEMPORAL_BIN" >&2; exit 1; }
echo "building godwit and godwit-worker" >&2
go build -o "$TMP/godwit" ./starter
go build -o "$TMP/godwit-worker" ./worker

echo "creating $N_TABLES tables of $ROWS rows in $SRC" >&2
for db in "$SRC" "$DST1" "$DST2"; do psql -q "$PG/postgres" -c "CREATE DATABASE $db" >/dev/null; done
psql -q "$PG/$SRC" >/dev/null <<SQL
DO \$\$
BEGIN
  FOR i IN 1..$N_TABLES LOOP
    EXECUTE format('CREATE TABLE t%s (id integer PRIMARY KEY, label text NOT NULL, amount numeric(12,2))', lpad(i::text, 5, '0'));
    EXECUTE format('INSERT INTO t%s SELECT g, ''row '' || g, g * 1.25 FROM generate_series(1, $ROWS) g', lpad(i::text, 5, '0'));
  END LOOP;
END
\$\$;
SQL

export SCALE_SRC="$PG/$SRC" SCALE_DST1="$PG/$DST1" SCALE_DST2="$PG/$DST2"
"$TEMPORAL" server start-dev --headless --ip 127.0.0.1 --port "$PORT" --http-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  --search-attribute MigrationPhase=Keyword --search-attribute MigrationStatus=Keyword --search-attribute ReplicationLag=Double \
  --log-level error >"$TMP/temporal.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done
export GODWIT_TEMPORAL_ADDRESS="127.0.0.1:$PORT" GODWIT_TEMPORAL_TASKQUEUE=$QUEUE
WORKERS=()
for w in 1 2; do
  "$TMP/godwit-worker" --log-level warn >"$TMP/worker$w.log" 2>&1 &
  PIDS+=($!) WORKERS+=($!)
done
sleep 2

# history NAME: "events bytes" of the largest run of workflow NAME, and
# how many runs it took.
history() {
  local runs max_e=0 max_b=0 e b n=0
  runs=$("$TEMPORAL" workflow list --address "127.0.0.1:$PORT" -q "WorkflowId = '$1'" -o json 2>/dev/null |
    python3 -c 'import json,sys; print(" ".join(x["execution"]["runId"] for x in json.load(sys.stdin)))')
  for r in $runs; do
    read -r e b < <("$TEMPORAL" workflow describe --address "127.0.0.1:$PORT" -w "$1" -r "$r" -o json 2>/dev/null |
      python3 -c 'import json,sys; i=json.load(sys.stdin)["workflowExecutionInfo"]; print(i.get("historyLength",0), i.get("historySizeBytes",0))')
    n=$((n + 1))
    [ "$e" -gt "$max_e" ] && max_e=$e
    [ "$b" -gt "$max_b" ] && max_b=$b
  done
  echo "$max_e $max_b $n"
}

spec() { # spec NAME DST TABLES...
  local name=$1 dst=$2
  shift 2
  local tables
  tables=$(printf '%s, ' "$@")
  cat <<YAML
name: $name
defaults: {timeout: 30m, heartbeatTimeout: 30s}
stores:
  legacy: {engine: postgres, dsn: {fromEnv: SCALE_SRC}}
  new: {engine: postgres, dsn: {fromEnv: $dst}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: [${tables%, }]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [${tables%, }], fanOut: 8}
YAML
}

echo "== one migration of $N_TABLES tables, fanOut 8" >&2
spec scale-one SCALE_DST1 't*' >"$TMP/one.yaml"
start=$(date +%s.%N)
"$TMP/godwit" start -f "$TMP/one.yaml" --wait >"$TMP/one.out" 2>&1 || { cat "$TMP/one.out" >&2; exit 1; }
one_wall=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
read -r one_e one_b one_runs < <(history scale-one)
copied=$(psql -tA "$PG/$DST1" -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 't%'")

echo "== $N_MIGRATIONS migrations at once" >&2
per=$((N_TABLES / N_MIGRATIONS))
start=$(date +%s.%N)
for m in $(seq 1 "$N_MIGRATIONS"); do
  tables=()
  for k in $(seq 1 "$per"); do tables+=("t$(printf '%05d' $(((m - 1) * per + k)))"); done
  spec "scale-many-$m" SCALE_DST2 "${tables[@]}" >"$TMP/many$m.yaml"
  "$TMP/godwit" start -f "$TMP/many$m.yaml" >/dev/null 2>"$TMP/many$m.err" || { cat "$TMP/many$m.err" >&2; exit 1; }
done
started=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
while :; do
  running=$("$TEMPORAL" workflow count --address "127.0.0.1:$PORT" -q "WorkflowType = 'Migration' AND ExecutionStatus = 'Running'" 2>/dev/null | awk '{print $NF}')
  [ "${running:-1}" = 0 ] && break
  sleep 1
done
many_wall=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
completed=$("$TEMPORAL" workflow count --address "127.0.0.1:$PORT" -q "WorkflowType = 'Migration' AND WorkflowId STARTS_WITH 'scale-many-' AND ExecutionStatus = 'Completed'" | awk '{print $NF}')
max_e=0 max_b=0 max_runs=0
for m in $(seq 1 "$N_MIGRATIONS"); do
  read -r e b n < <(history "scale-many-$m")
  [ "$e" -gt "$max_e" ] && max_e=$e
  [ "$b" -gt "$max_b" ] && max_b=$b
  [ "$n" -gt "$max_runs" ] && max_runs=$n
done
rows2=$(psql -tA "$PG/$DST2" -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 't%'")

echo "one migration of $N_TABLES tables ($ROWS rows each), fanOut 8, 2 workers: ${one_wall}s wall, $copied tables on the target"
echo "  largest history: $one_e events, $one_b bytes; runs: $one_runs"
echo "$N_MIGRATIONS migrations at once ($per tables each), 2 workers: ${many_wall}s wall (started in ${started}s), $completed completed, $rows2 tables on the target"
echo "  largest history of any of them: $max_e events, $max_b bytes; most runs of one: $max_runs"
for i in "${!WORKERS[@]}"; do
  echo "worker $((i + 1)) peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/${WORKERS[$i]}/status")"
done
