#!/usr/bin/env bash
# The README's first command. On a machine with only Go it installs the
# Temporal CLI, builds godwit, godwit-worker, godwit-gateway and the demo
# tools, starts the dev server (UI at http://localhost:8233), a worker, the
# gateway and two demo services, seeds a SQLite database, and runs
# examples/live-demo.yaml: a database copied and checked, users' traffic
# moved through the gateway under a steady client load, a go-live gate.
#
#   ./scripts/demo.sh                 # the live demo, approved at its gate, to COMPLETED
#   ./scripts/demo.sh rollback-demo   # the same, rolled back at the gate: route back on legacy, new tables dropped
#   ./scripts/demo.sh classic         # the file-based demo (examples/demo.yaml) the README's tour uses
#   ./scripts/demo.sh seed            # fresh data for the classic demo
#   ./scripts/demo.sh stop            # stop everything these scripts started
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CLASSIC_DIR=/tmp/godwit-demo
LIVE_DIR=/tmp/godwit-live-demo
LIVE=live-demo

stop() {
  stop_load
  "$ROOT/scripts/demo-services.sh" stop
  for p in worker temporal; do
    if [ -f "$STATE/$p.pid" ]; then kill "$(cat "$STATE/$p.pid")" 2>/dev/null || true; rm -f "$STATE/$p.pid"; fi
  done
  log "stopped the worker and the dev server (those this script started)"
}

# status_field NAME FIELD prints a top-level string field of the status.
status_field() {
  { godwit status "$1" -o json 2>/dev/null || true; } | sed -n "s/^  \"$2\": \"\(.*\)\",\{0,1\}\$/\1/p" | head -1
}

is_final() { [[ "$1" =~ ^(COMPLETED|ROLLED_BACK|ROLLBACK_FAILED|FAILED)$ ]]; }

# finish_earlier rolls back a run of NAME that an earlier demo left going,
# so this one starts clean (rollback is refused once decommission runs;
# then it ends soon anyway).
finish_earlier() {
  local st; st=$(status_field "$1" status)
  if [ -n "$st" ] && ! is_final "$st"; then
    log "an earlier $1 is still $st: rolling it back first"
    godwit rollback "$1" --reason "demo restarted" --log-level error || true
    godwit status "$1" --watch --interval 1s >/dev/null 2>&1 || true
  fi
}

# ---- the classic, file-based demo (examples/demo.yaml) ----

seed() {
  log "seeding $CLASSIC_DIR/legacy/users.csv with 1000 rows"
  rm -rf "$CLASSIC_DIR"; mkdir -p "$CLASSIC_DIR/legacy"
  seq 1 1000 | awk '{ printf "%d,user%d@example.com,user %d\n", $1, $1, $1 }' >"$CLASSIC_DIR/legacy/users.csv"
  echo "new=0 legacy=100" >"$CLASSIC_DIR/routing"
}

classic() {
  need_go
  ensure_temporal
  build_godwit
  ensure_dev_server
  ensure_worker
  finish_earlier demo
  seed
  godwit validate -f "$ROOT/examples/demo.yaml"
  godwit start -f "$ROOT/examples/demo.yaml"
  log "watch it in the Temporal UI: http://localhost:8233/namespaces/default/workflows/demo"
  wait_gate demo go-live
  godwit status demo
  log "approving the go-live gate"
  godwit approve demo --gate go-live --by demo-script
  godwit status demo --watch --interval 1s
  log "done. Effects: $(cat "$CLASSIC_DIR/routing"); target rows: $(wc -l <"$CLASSIC_DIR/target/users.csv")"
  log "try a rollback: ./scripts/demo.sh seed && godwit start -f examples/demo.yaml, then godwit rollback demo --reason test"
  log "the dev server and worker keep running; stop them with: ./scripts/demo.sh stop"
}

# wait_gate NAME GATE waits until NAME waits at GATE; fails if it ends first.
wait_gate() {
  local st
  for _ in $(seq 1 300); do
    [ "$(status_field "$1" waitingGate)" = "$2" ] && return 0
    st=$(status_field "$1" status)
    if is_final "$st"; then
      godwit status "$1"; echo "$1 ended $st before its $2 gate; see above and .godwit/worker.log" >&2; exit 1
    fi
    sleep 1
  done
  echo "$1 did not reach its $2 gate within 5 minutes; see godwit status $1 and .godwit/worker.log" >&2
  exit 1
}

# ---- the live demo (examples/live-demo.yaml) ----

build_demo_tools() {
  log "building demo-load (client traffic) into bin/ and demo-db (seed, reconcile) into $LIVE_DIR/bin/"
  mkdir -p "$LIVE_DIR/bin"
  (cd "$ROOT" && go build -o "$BIN/demo-load" ./examples/demo-load && go build -o "$LIVE_DIR/bin/demo-db" ./examples/demo-db)
}

# seed_live creates the legacy database (100,000 rows) and the DSN files
# the spec's stores name (fromFile: the worker reads them, nothing secret
# reaches Temporal).
seed_live() {
  log "seeding the legacy SQLite database $LIVE_DIR/legacy.db"
  rm -f "$LIVE_DIR"/*.db "$LIVE_DIR"/*.db-* "$LIVE_DIR"/*.dsn
  echo "$LIVE_DIR/legacy.db" >"$LIVE_DIR/legacy.dsn"
  echo "$LIVE_DIR/new.db" >"$LIVE_DIR/new.dsn"
  "$LIVE_DIR/bin/demo-db" seed "$LIVE_DIR/legacy.db"
}

# start_load runs the client load through the gateway in the background
# (bounded: 10 minutes at most), logging to .godwit/demo-load.log.
start_load() {
  stop_load
  log "starting the client load: 25 requests/s through the gateway (1 in 5 a write), log .godwit/demo-load.log"
  setsid nohup "$BIN/demo-load" -for 10m -every 3s </dev/null >"$STATE/demo-load.log" 2>&1 &
  echo $! >"$STATE/demo-load.pid"
  disown
}

# stop_load stops the client load; it prints its totals into its log.
stop_load() {
  local pid
  [ -f "$STATE/demo-load.pid" ] || return 0
  pid=$(cat "$STATE/demo-load.pid"); rm -f "$STATE/demo-load.pid"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

load_line() { tail -n 1 "$STATE/demo-load.log" 2>/dev/null | sed 's/^/    client load: /'; }

live_setup() {
  need_go
  ensure_temporal
  build_godwit
  build_demo_tools
  ensure_dev_server
  ensure_worker
  finish_earlier "$LIVE"
  # The gateway restores weights from its state file; the demo starts with
  # every user on legacy.
  "$ROOT/scripts/demo-services.sh" stop >/dev/null 2>&1 || true
  rm -f /tmp/godwit-traffic-demo/state.json
  "$ROOT/scripts/demo-services.sh" start
  seed_live
}

# follow_copy shows the status every ~10 s until the copy phase is done.
follow_copy() {
  local shown=0 cur st
  for _ in $(seq 1 600); do
    cur=$(status_field "$LIVE" currentPhase); st=$(status_field "$LIVE" status)
    if is_final "$st" || [[ -n "$cur" && ! "$cur" =~ (not started|validate|provision|copy)$ ]]; then break; fi
    if [[ "$cur" =~ copy$ ]] && [ $((SECONDS - shown)) -ge 10 ]; then
      log "godwit status $LIVE   (the copy is throttled to 4,000 rows/s; try godwit pause / resume)"
      godwit status "$LIVE"; load_line
      shown=$SECONDS
    fi
    sleep 0.5
  done
}

# follow_until gate|end prints each new phase or step of the run, with the
# client load's latest line, until it waits at a gate (gate) or ends.
follow_until() {
  local want=$1 last="" cur st
  for _ in $(seq 1 600); do
    cur=$(status_field "$LIVE" currentPhase); st=$(status_field "$LIVE" status)
    if [ "$cur" != "$last" ] && [ -n "$cur" ]; then
      printf '  %-17s %s\n' "$st" "$cur"; load_line; last=$cur
    fi
    case "$want" in
      gate) [ -n "$(status_field "$LIVE" waitingGate)" ] && return 0 ;;
    esac
    if is_final "$st"; then return 0; fi
    sleep 1
  done
}

# where_traffic_goes sends 100 requests through the gateway now and says who answered.
where_traffic_goes() {
  log "100 requests through the gateway now:"
  "$BIN/demo-load" -n 100 -rate 100 -every 0 | sed 's/^/    /' || true
}

live() {
  local mode=$1
  live_setup
  godwit validate -f "$ROOT/examples/live-demo.yaml"
  start_load
  sleep 2; load_line
  godwit start -f "$ROOT/examples/live-demo.yaml"
  log "watch it in the Temporal UI: http://localhost:8233/namespaces/default/workflows/$LIVE"
  follow_copy
  log "copied; now reconcile, then the users move through the gateway (10% of reads, analysis, 50%, analysis)"
  follow_until gate
  st=$(status_field "$LIVE" status)
  if is_final "$st"; then
    godwit status "$LIVE"; echo "$LIVE ended $st before its go-live gate; see above and .godwit/worker.log" >&2; exit 1
  fi
  log "waiting at the go-live gate"
  godwit status "$LIVE"; load_line
  if [ "$mode" = approve ]; then
    log "approving the go-live gate: all reads and writes to new, then legacy retired"
    godwit approve "$LIVE" --gate go-live --by demo-script
  else
    log "rolling back at the go-live gate, on request"
    godwit rollback "$LIVE" --reason "not today: rolled back at the gate by the demo"
  fi
  follow_until end
  sleep 1
  stop_load
  log "the client load's last lines"
  tail -n 4 "$STATE/demo-load.log" | sed 's/^/    /'
  log "final status"
  godwit status "$LIVE" || true
  where_traffic_goes
  if [ "$mode" = approve ]; then
    log "new database: $("$LIVE_DIR/bin/demo-db" tables "$LIVE_DIR/new.db" | wc -l) tables"
    "$LIVE_DIR/bin/demo-db" tables "$LIVE_DIR/new.db" | sed 's/^/    /'
    log "done. Try a rollback at the gate: ./scripts/demo.sh rollback-demo"
  else
    if [ -e "$LIVE_DIR/new.db" ]; then
      log "the new database after the rollback (provision's compensation dropped what it created):"
      "$LIVE_DIR/bin/demo-db" tables "$LIVE_DIR/new.db" | sed 's/^/    /'
    else
      log "new.db is gone: provision created it (createDatabase), so its compensation removed it"
    fi
    log "done. Run it to the end: ./scripts/demo.sh"
  fi
  log "everything keeps running (UI http://localhost:8233); stop it with: ./scripts/demo.sh stop"
}

case "${1:-run}" in
  run) live approve ;;
  rollback-demo) live rollback ;;
  classic) classic ;;
  seed) seed ;;
  stop) stop ;;
  *) echo "usage: $0 [run|rollback-demo|classic|seed|stop]" >&2; exit 2 ;;
esac
