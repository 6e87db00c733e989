# Shared set-up for scripts/demo.sh, scripts/test.sh and .ci/run.
# Sourced, not run. Everything it installs lands under bin/ and .godwit/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/bin"
STATE="$ROOT/.godwit"
TEMPORAL_VERSION=v1.5.1
# Newer tags carry replace directives that `go install` refuses.
TERRAFORM_VERSION=v1.6.6
export PATH="$BIN:/usr/local/go/bin:$PATH"
mkdir -p "$BIN" "$STATE"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_go() {
  command -v go >/dev/null || { echo "Go is required (1.26+): https://go.dev/dl/" >&2; exit 1; }
}

# ensure_temporal installs the Temporal CLI (server, UI and client in one
# binary) from the Go module proxy into bin/, once.
ensure_temporal() {
  if [ -x "$BIN/temporal" ]; then return; fi
  log "installing the Temporal CLI $TEMPORAL_VERSION into bin/ (first time only, 1-3 minutes)"
  GOBIN="$BIN" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_VERSION"
}

# ensure_terraform installs Terraform (for the terraform phase driver's
# tests) from the Go module proxy into bin/, once.
ensure_terraform() {
  if [ -x "$BIN/terraform" ]; then return; fi
  log "installing Terraform $TERRAFORM_VERSION into bin/ (first time only, about 2.5 minutes)"
  GOBIN="$BIN" go install "github.com/hashicorp/terraform@$TERRAFORM_VERSION"
}

# ensure_haproxy installs HAProxy from Debian's packages (the haproxy
# runtime-API tests start a real one), once. Needs root and apt.
ensure_haproxy() {
  if command -v haproxy >/dev/null; then return; fi
  log "installing haproxy from Debian (first time only)"
  apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y haproxy >/dev/null
}

# ensure_chromium installs Debian's chromium (the dashboard's browser test
# drives it headless with chromedp), once. Needs root and apt; the test
# finds it on PATH or at $GODWIT_CHROMIUM.
ensure_chromium() {
  if [ -n "${GODWIT_CHROMIUM:-}" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then return; fi
  log "installing chromium from Debian (first time only)"
  apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null
}

build_godwit() {
  log "building godwit and godwit-worker into bin/"
  (cd "$ROOT" && go build -o "$BIN/godwit" ./starter && go build -o "$BIN/godwit-worker" ./worker)
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 what=$2 i
  for i in $(seq 1 120); do port_open "$port" && return 0; sleep 0.5; done
  echo "$what did not come up on port $port; see its log under .godwit/" >&2
  return 1
}

# ensure_dev_server starts a persistent Temporal dev server with its UI and
# Godwit's search attributes, unless one already listens on 7233.
ensure_dev_server() {
  if port_open 7233; then log "Temporal already listening on 127.0.0.1:7233"; return; fi
  log "starting the Temporal dev server (UI on http://localhost:8233, log .godwit/temporal.log)"
  setsid nohup "$BIN/temporal" server start-dev --ip 127.0.0.1 --ui-port 8233 \
    --db-filename "$STATE/temporal.db" \
    --search-attribute MigrationPhase=Keyword --search-attribute MigrationStatus=Keyword \
    --search-attribute ReplicationLag=Double \
    --log-level warn </dev/null >"$STATE/temporal.log" 2>&1 &
  echo $! >"$STATE/temporal.pid"
  disown
  wait_port 7233 "the Temporal dev server"
}

ensure_worker() {
  if [ -f "$STATE/worker.pid" ] && kill -0 "$(cat "$STATE/worker.pid")" 2>/dev/null; then
    log "restarting the worker on the freshly built binary"
    kill "$(cat "$STATE/worker.pid")"; sleep 1
  fi
  log "starting godwit-worker (log .godwit/worker.log)"
  # The worker reads ./godwit.yaml if present, so it runs from the repo root.
  (cd "$ROOT" && exec setsid nohup "$BIN/godwit-worker" </dev/null >"$STATE/worker.log" 2>&1) &
  echo $! >"$STATE/worker.pid"
  disown
}

# ensure_databases starts the local PostgreSQL and MariaDB when they are
# installed but not running (the data-plane tests use them).
ensure_databases() {
  if ! port_open 5432 && command -v pg_ctlcluster >/dev/null; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  if ! port_open 3306 && [ -x /usr/sbin/mariadbd ]; then
    log "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
}
