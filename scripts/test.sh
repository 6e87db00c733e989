#!/usr/bin/env bash
# Runs every test on a fresh machine: installs the Temporal CLI and Terraform
# into bin/ (the integration tests start their own dev server with the one;
# the terraform driver's tests run the other), makes sure the
# local databases run, installs haproxy from Debian (its runtime-API tests)
# and chromium (the dashboard's browser test), then vets and tests all packages.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_go
ensure_temporal
ensure_terraform
ensure_haproxy
ensure_chromium
ensure_databases
export GODWIT_TEMPORAL_BIN="$BIN/temporal"
export GODWIT_TERRAFORM_BIN="$BIN/terraform"
cd "$ROOT"
log "go vet ./..."
go vet ./...
log "go test ./..."
go test -count=1 -race -timeout 20m ./... "$@"
