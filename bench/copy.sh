#!/bin/sh
# The data-plane benchmark (bench/copy/main.go): generated PostgreSQL
# tables of GODWIT_BENCH_ROWS rows (default 1,000,000; t of mixed types and
# a pgbench_accounts) copied to PostgreSQL, MariaDB and SQLite through a
# real migration (Temporal dev server, a godwit-worker, the provision and
# copy drivers), against psql \copy pipes into psql \copy, LOAD DATA and
# sqlite3 .import in the same run. Prints rows/s, the worker's peak RSS,
# "mariadb ratio:", "sqlite ratio:", "mapped ratio:" and, last, "ratio: X"
# (godwit / reference, PostgreSQL to PostgreSQL, the lower of the two
# shapes). Not part of the normal test run.
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/copy -rows "${GODWIT_BENCH_ROWS:-1000000}" "$@"
