#!/bin/sh
# bench.sh is `make bench`: it measures what logingate adds to a login and
# how it holds up when logins race, and rewrites docs/BENCHMARKS.md.
# Run it as root from anywhere. Settings, from the environment:
#   BENCH_RUNS            timed runs per latency case (default 300)
#   BENCH_STRESS_SECONDS  length of each stress run, on the file backend and
#                         then on PostgreSQL (default 60; 0 skips both)
#   BENCH_STRESS_PROCS    concurrent gate processes in it (default 64)
set -eu
cd "$(dirname "$0")/.."
exec "${GO:-go}" run ./scripts/bench \
	-n "${BENCH_RUNS:-300}" \
	-stress "${BENCH_STRESS_SECONDS:-60}s" \
	-procs "${BENCH_STRESS_PROCS:-64}" \
	-out docs/BENCHMARKS.md
