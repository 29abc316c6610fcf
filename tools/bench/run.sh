#!/usr/bin/env bash
# Runs the benchmarks of the nested Benchmarks/ package and checks them against the checked-in thresholds
# (Benchmarks/Thresholds: 0 allocations per decoded packet; time within the tolerances in the benchmark code).
# Usage: tools/bench/run.sh [run|check|update]   (default: run then check)
set -euo pipefail
cd "$(dirname "$0")/../../Benchmarks"
case "${1:-all}" in
    run) swift package benchmark --no-progress ;;
    check) swift package benchmark thresholds check --no-progress ;;
    update) swift package --allow-writing-to-package-directory benchmark thresholds update --no-progress ;;
    all)
        swift package benchmark --no-progress
        swift package benchmark thresholds check --no-progress
        ;;
    *) echo "usage: tools/bench/run.sh [run|check|update]" >&2; exit 2 ;;
esac
