#!/usr/bin/env bash
# Runs two tiny local services (legacy on 18481, new on 18482) behind a
# godwit-gateway (traffic on 18480, admin API on 18490, token "demo-token"
# in /tmp/godwit-traffic-demo/token), so traffic can be seen moving between
# them. Route "users" matches every path and is keyed on X-User-ID.
#   ./scripts/demo-services.sh start   # build and start the three processes
#   ./scripts/demo-services.sh load    # 200 requests with 200 user keys: who answered
#   ./scripts/demo-services.sh stop
# Move traffic by hand, or with a migration (examples/traffic.yaml with
# GODWIT_GATEWAY_TOKEN=demo-token in the worker's environment):
#   curl -s -X PUT -H "Authorization: Bearer demo-token" -d '{"read":25,"write":0}' localhost:18490/v1/routes/users/weights
#   curl -s -X PUT localhost:18482/_demo/fail      # new answers 500: the breaker sends its share to legacy
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DIR=/tmp/godwit-traffic-demo
PROCS="legacy new gateway"

start() {
  need_go
  log "building godwit-gateway and demo-service into bin/"
  (cd "$ROOT" && go build -o "$BIN/godwit-gateway" ./gateway/cmd/godwit-gateway && go build -o "$BIN/demo-service" ./examples/demo-service)
  mkdir -p "$DIR"
  printf 'demo-token\n' >"$DIR/token"
  cat >"$DIR/gateway.yaml" <<YAML
listen: 127.0.0.1:18480
admin: {listen: 127.0.0.1:18490, tokenFile: $DIR/token}
stateFile: $DIR/state.json
sideHeader: X-Godwit-Side
routes:
  - name: users
    legacy: http://127.0.0.1:18481
    new: http://127.0.0.1:18482
    stickyKey: {header: X-User-ID}
    timeout: 5s
    breaker: {consecutiveFailures: 5, openFor: 10s}
YAML
  stop quiet
  start_one legacy "$BIN/demo-service" -name legacy -listen 127.0.0.1:18481
  start_one new "$BIN/demo-service" -name new -listen 127.0.0.1:18482
  wait_port 18481 "legacy"; wait_port 18482 "new"
  start_one gateway "$BIN/godwit-gateway" -config "$DIR/gateway.yaml"
  wait_port 18480 "the gateway"; wait_port 18490 "the gateway's admin API"
  log "legacy :18481, new :18482, gateway :18480 (admin :18490, token demo-token); logs in $STATE/demo-*.log"
}

start_one() {
  local name=$1; shift
  setsid nohup "$@" </dev/null >"$STATE/demo-$name.log" 2>&1 &
  echo $! >"$STATE/demo-$name.pid"
  disown
}

stop() {
  for p in $PROCS; do
    if [ -f "$STATE/demo-$p.pid" ]; then kill "$(cat "$STATE/demo-$p.pid")" 2>/dev/null || true; rm -f "$STATE/demo-$p.pid"; fi
  done
  [ "${1:-}" = quiet ] || log "stopped the demo services and gateway"
}

load() {
  for i in $(seq 1 200); do
    curl -s -H "X-User-ID: user-$i" localhost:18480/users/ || echo "request failed"
  done | sort | uniq -c
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  load) load ;;
  *) echo "usage: $0 [start|load|stop]" >&2; exit 2 ;;
esac
