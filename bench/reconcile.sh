#!/bin/sh
# The reconcile benchmark (issues 7, 24): see bench/reconcile/main.go. Builds
# GODWIT_BENCH_ROWS (default 1,000,000) rows in PostgreSQL and MariaDB,
# times `godwit diff` against the NOT EXISTS + EXCEPT reference (PostgreSQL
# ↔ PostgreSQL) and against a streamed key, md5(canonical text) merge
# (PostgreSQL ↔ MariaDB), interleaved; prints "cross-engine speedup: X"
# and, last, "speedup: X". Not part of the normal test run.
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/reconcile "$@"
