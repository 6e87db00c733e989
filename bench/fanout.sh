#!/bin/sh
# The fan-out benchmark (bench/fanout/main.go): a copy phase of 20,000
# one-row key-range units and one of 1,000, through a real migration
# (its own Temporal dev server and worker, PostgreSQL on 127.0.0.1). The
# 20,000 run in windows of FanOutWindow child workflows. Prints the units,
# "max events per run: N" (the longest history of any run it made) and,
# last, "ratio: X" (per-unit time at 20,000 / at 1,000; goal <= 1.2).
# Not part of the normal test run.
set -eu
cd "$(dirname "$0")/.."
exec go run ./bench/fanout "$@"
