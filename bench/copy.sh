#!/bin/sh
# Copies GODWIT_BENCH_ROWS (default 1,000,000) generated rows from SQLite into
# PostgreSQL through the provision and copy drivers, and in the same run loads
# the same rows with psql \copy (the reference). Prints rows/s for both and,
# last, "ratio: X" (godwit / reference). Needs PostgreSQL on 127.0.0.1:5432
# (or GODWIT_TEST_POSTGRES) and psql. Not part of the normal test run.
set -eu
cd "$(dirname "$0")/.."
out=$(go test -run '^$' -bench CopyDriverSQLiteToPostgres -benchtime 1x -timeout 30m ./drivers/copy/ 2>&1) || { printf '%s\n' "$out"; exit 1; }
# go test prints its own lines after the benchmark's: keep the ratio last.
printf '%s\n' "$out" | grep -v '^ratio:'
printf '%s\n' "$out" | grep '^ratio:'
