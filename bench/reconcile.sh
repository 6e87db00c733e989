#!/bin/sh
# The reconcile benchmark (issue 7): see bench/reconcile/main.go. Builds
# GODWIT_BENCH_ROWS (default 1,000,000) rows in PostgreSQL (and MariaDB),
# times `godwit diff` against the NOT EXISTS + EXCEPT reference, prints
# rows/s and, last, "speedup: X". Not part of the normal test run.
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/reconcile "$@"
