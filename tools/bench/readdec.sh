#!/usr/bin/env bash
# The stages before the flow stage (read, read + decode + capture point id: PacketDecoder.decodePackets, the loop
# FlowPipeline runs before the analyzer) against tcpdump -r FILE -w /dev/null (the libpcap floor), interleaved in
# one run: median wall time of RUNS runs each, pinned to one core, page cache warm; ns/packet and the ratio to
# tcpdump. Not a timed test: numbers for reports.
#
#   tools/bench/readdec.sh [FILE...]      default: .build/bench/x1.sll2.pcap and x1.pcapng (tools/bench/compare.sh)
# Environment: RUNS (5), CPU (1), HOPTRACE (a hoptrace binary: adds `hoptrace requests FILE` to the table).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-5}
CPU=${CPU:-1}
if [ $# -eq 0 ]; then set -- "$ROOT/.build/bench/x1.sll2.pcap" "$ROOT/.build/bench/x1.pcapng"; fi

# The timing loop lives in the nested Benchmarks package (it links the library, not the CLI). SwiftPM keeps the
# list of a path dependency's source files in its build description: drop it so new files are seen.
rm -f "$ROOT/Benchmarks/.build/release/description.json"
(cd "$ROOT/Benchmarks" && swift build -c release --product ReadDecode >&2)
BENCH=$ROOT/Benchmarks/.build/release/ReadDecode

seconds() { # COMMAND... -> wall seconds
    local t0 t1
    t0=$(date +%s%N)
    taskset -c "$CPU" "$@" > /dev/null 2>&1
    t1=$(date +%s%N)
    echo "$(((t1 - t0) / 1000))" | awk '{printf "%.4f\n", $1 / 1e6}'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for file in "$@"; do
    [ -f "$file" ] || { echo "no such file: $file (make one with tools/bench/compare.sh)" >&2; exit 1; }
    packets=$("$BENCH" read "$file" | awk '{print $1}')  # also warms the page cache
    names=(tcpdump read decode)
    [ -n "${HOPTRACE:-}" ] && names+=(requests)
    declare -A times=()
    for _ in $(seq "$RUNS"); do
        for name in "${names[@]}"; do
            case $name in
                tcpdump) t=$(seconds tcpdump -r "$file" -w /dev/null) ;;
                read | decode) t=$(seconds "$BENCH" "$name" "$file") ;;
                requests) t=$(seconds "$HOPTRACE" requests "$file") ;;
            esac
            times[$name]="${times[$name]:-} $t"
        done
    done
    floor=$(echo "${times[tcpdump]}" | tr ' ' '\n' | grep . | median)
    echo "$(basename "$file"): $packets packets, median of $RUNS runs on CPU $CPU"
    for name in "${names[@]}"; do
        m=$(echo "${times[$name]}" | tr ' ' '\n' | grep . | median)
        awk -v n="$name" -v s="$m" -v p="$packets" -v f="$floor" \
            'BEGIN {printf "  %-9s %7.3f s  %7.1f ns/packet  %5.2fx tcpdump\n", n, s, s * 1e9 / p, s / f}'
    done
    unset times
done
