#!/usr/bin/env bash
# Makes the README's screenshots of the dashboard: docs/img/dashboard-list.png
# (the migrations list) and docs/img/dashboard-run.png (a run waiting at its
# go-live gate). It runs the dashboard's browser test, which starts its own
# Temporal dev server and workers, runs two demo migrations (one left at its
# gate, one rolled back) and drives headless chromium over the dashboard;
# with GODWIT_SCREENSHOTS set it saves the pages it checks as PNGs there.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_go
ensure_temporal
ensure_chromium
export GODWIT_TEMPORAL_BIN="$BIN/temporal"
mkdir -p "$ROOT/docs/img"
export GODWIT_SCREENSHOTS="$ROOT/docs/img"
cd "$ROOT"
log "screenshots of the dashboard into docs/img/"
go test -count=1 -timeout 10m ./integration -run '^TestDashboardInABrowser$' "$@"
ls -l docs/img/dashboard-*.png
