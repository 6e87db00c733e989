#!/bin/sh
# The backfill benchmark (issue 20): see bench/backfill/main.go. Fills a
# new column of GODWIT_BENCH_ROWS (default 1,000,000) PostgreSQL rows with
# Godwit's batched backfill and with one UPDATE on a fresh copy, in the
# same run; prints rows/s and, last, "ratio: X" (UPDATE time ÷ backfill
# time; goal >= 0.7). Not part of the normal test run.
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/backfill "$@"
