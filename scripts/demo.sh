#!/usr/bin/env bash
# Runs the demo migration end to end on a fresh machine: installs the Temporal
# CLI, starts the dev server (UI at http://localhost:8233) and a worker, seeds
# the demo data, starts examples/demo.yaml, approves its go-live gate and
# follows it to the end. `./scripts/demo.sh stop` stops the server and worker.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DEMO_DIR=/tmp/godwit-demo

stop() {
  for p in worker temporal; do
    if [ -f "$STATE/$p.pid" ]; then kill "$(cat "$STATE/$p.pid")" 2>/dev/null || true; rm -f "$STATE/$p.pid"; fi
  done
  log "stopped the worker and the dev server"
}

seed() {
  log "seeding $DEMO_DIR/legacy/users.csv with 1000 rows"
  rm -rf "$DEMO_DIR"; mkdir -p "$DEMO_DIR/legacy"
  seq 1 1000 | awk '{ printf "%d,user%d@example.com,user %d\n", $1, $1, $1 }' >"$DEMO_DIR/legacy/users.csv"
  echo "new=0 legacy=100" >"$DEMO_DIR/routing"
}

case "${1:-run}" in
  stop) stop; exit 0 ;;
  seed) seed; exit 0 ;;
  run) ;;
  *) echo "usage: $0 [run|seed|stop]" >&2; exit 2 ;;
esac

need_go
ensure_temporal
build_godwit
ensure_dev_server
ensure_worker

# A demo left running by an earlier run is rolled back first, so this one
# starts clean (rollback is refused once decommission runs; then it ends soon).
if godwit status demo -o json 2>/dev/null | grep -Eq '"status": "(IN_PROGRESS|PAUSED|WAITING_APPROVAL|ROLLING_BACK)"'; then
  log "an earlier demo is still running: rolling it back first"
  godwit rollback demo --reason "demo restarted" --log-level error || true
  godwit status demo --watch --interval 1s >/dev/null 2>&1 || true
fi
seed

godwit validate -f "$ROOT/examples/demo.yaml"
godwit start -f "$ROOT/examples/demo.yaml"
log "watch it in the Temporal UI: http://localhost:8233/namespaces/default/workflows/demo"

log "waiting for the go-live gate"
for _ in $(seq 1 120); do
  json=$(godwit status demo -o json)
  grep -q '"waitingGate": "go-live"' <<<"$json" && break
  if grep -Eq '"status": "(COMPLETED|ROLLED_BACK|ROLLBACK_FAILED|FAILED)"' <<<"$json"; then
    godwit status demo; echo "the demo ended before its gate; see above and .godwit/worker.log" >&2; exit 1
  fi
  sleep 1
done
godwit status demo
log "approving the go-live gate"
godwit approve demo --gate go-live --by demo-script
godwit status demo --watch --interval 1s
log "done. Effects: $(cat "$DEMO_DIR/routing"); target rows: $(wc -l <"$DEMO_DIR/target/users.csv")"
log "try a rollback: ./scripts/demo.sh seed && godwit start -f examples/demo.yaml, then godwit rollback demo --reason test"
log "the dev server and worker keep running; stop them with: ./scripts/demo.sh stop"
