#!/bin/sh
# The data-plane benchmark (bench/copy/main.go): a generated PostgreSQL
# table of GODWIT_BENCH_ROWS rows (default 1,000,000) copied to PostgreSQL
# and to MariaDB through a real migration (Temporal dev server, a
# godwit-worker, the provision and copy drivers), against psql \copy pipes
# in the same run. Prints rows/s, the worker's peak RSS and, last,
# "ratio: X" (godwit / reference, PostgreSQL to PostgreSQL). Not part of the
# normal test run.
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/copy -rows "${GODWIT_BENCH_ROWS:-1000000}" "$@"
