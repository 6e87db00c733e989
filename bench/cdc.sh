#!/bin/sh
# Replication under load and backlog drain, for PostgreSQL (logical
# replication, on a throwaway cluster with wal_level=logical) and MariaDB
# (triggers): GODWIT_BENCH_CHANGES changes (default 200,000) written on 4
# connections while replicate applies them, then a backlog of as many
# drained. Prints the rates and the lag, and last "ratio: X" (PostgreSQL's
# drain rate / its write rate). Needs PostgreSQL (initdb) and MariaDB as
# the tests do. Not part of the normal test run.
set -eu
cd "$(dirname "$0")/.."
export GODWIT_BENCH_CHANGES="${GODWIT_BENCH_CHANGES:-200000}"
out=$(go test -run '^$' -bench 'Replicate$' -benchtime 1x -timeout 30m ./cdc/ 2>&1) || { printf '%s\n' "$out"; exit 1; }
printf '%s\n' "$out" | grep -v '^ratio:'
printf '%s\n' "$out" | grep '^ratio:'
