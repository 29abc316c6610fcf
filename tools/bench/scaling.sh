#!/usr/bin/env bash
# `hoptrace trace --all --json` as the capture grows, `requests` beside it on the same file: SLL2 node captures of the
# bench generator (tools/bench/gen.py --format sll2, three capture points) at ~1 M, ~2 M and ~3 M packets (the 2x
# point shows whether memory is flat), for each concurrency in CONCURRENCY. Median wall and CPU (user+sys) time of
# RUNS runs, one core (taskset -c $CPU), peak RSS the max of the runs; "caps": a note number when trace --all said on
# stderr that it gave something up to stay within its caps, each note listed under the table. Not a timed test:
# numbers for the README and reports.
#
#   tools/bench/scaling.sh      Environment: SCALES ("0.36 0.72 1.08"), CONCURRENCY ("25 400": 25 is a sparse node,
#                               ~21,000 packets/s, a capture far longer than correlation's windows; 400 the
#                               dense default, ~310,000 packets/s), RUNS (5), CPU (1),
#                               HOPTRACE (.build/release/hoptrace), BENCH_DIR (.build/bench)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_DIR:-$ROOT/.build/bench}
SCALES=${SCALES:-0.36 0.72 1.08}
CONCURRENCY=${CONCURRENCY:-25 400}
RUNS=${RUNS:-5}
CPU=${CPU:-1}
HOPTRACE=${HOPTRACE:-$ROOT/.build/release/hoptrace}
mkdir -p "$OUT"
if [ ! -x "$HOPTRACE" ]; then (cd "$ROOT" && swift build -c release --product hoptrace); fi

file() { # SCALE CONCURRENCY -> path, generated once
    local prefix=$OUT/scaling-s$1-c$2
    if [ ! -f "$prefix.sll2.pcap" ]; then
        python3 "$ROOT/tools/bench/gen.py" --scale "$1" --concurrency "$2" --format sll2 "$prefix" >&2
    fi
    echo "$prefix.sll2.pcap"
}
# measure FILE COMMAND... -> "median_wall median_cpu max_rss_kib" and the last run's stderr in $OUT/scaling-err.txt
measure() {
    local file=$1 times=() cpus=() rss=0 i t m u s
    shift
    cat "$file" > /dev/null
    for ((i = 0; i < RUNS; i++)); do
        /usr/bin/time -f '%e %M %U %S' -o "$OUT/scaling-time.txt" taskset -c "$CPU" "$@" "$file" > /dev/null \
            2> "$OUT/scaling-err.txt"
        read -r t m u s < <(tail -1 "$OUT/scaling-time.txt")
        times+=("$t")
        cpus+=("$(echo "$u + $s" | bc)")
        ((m > rss)) && rss=$m
    done
    echo "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
        "$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" "$rss"
}

echo "machine: $(nproc) cores, pinned to CPU $CPU; median of $RUNS runs; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| concurrency | file (packets, capture s)   | requests s (CPU s) | requests MiB | trace --all --json s (CPU s) | trace MiB | trace / requests: time, memory | caps |"
echo "|------------:|-----------------------------|-------------------:|-------------:|-----------------------------:|----------:|-------------------------------:|-----:|"
notes=()
for c in $CONCURRENCY; do
    for s in $SCALES; do
        f=$(file "$s" "$c")
        packets=$(capinfos -M -c -T "$f" | awk -F'\t' 'NR==2 {print $2}')
        duration=$(capinfos -M -u -T "$f" | awk -F'\t' 'NR==2 {printf "%.0f", $2}')
        read -r rw rc rm < <(measure "$f" "$HOPTRACE" requests)
        read -r tw tc tm < <(measure "$f" "$HOPTRACE" trace --all --json)
        # What trace --all said on stderr it gave up at its caps (the last run's), listed under the table.
        caps=$(sed -n 's/^hoptrace: memory caps reached: //p' "$OUT/scaling-err.txt" | head -1)
        evicted=-
        if [ -n "$caps" ]; then
            notes+=("$caps")
            evicted="(${#notes[@]})"
        fi
        awk -v c="$c" -v s="$s" -v p="$packets" -v d="$duration" -v rw="$rw" -v rc="$rc" -v rm="$rm" -v tw="$tw" \
            -v tc="$tc" -v tm="$tm" -v e="${evicted:-0}" 'BEGIN {
            printf "| %11s | %-27s | %7.2f (%7.2f) | %12.0f | %17.2f (%7.2f) | %9.0f | %19.1fx, %6.1fx | %4s |\n",
                c, sprintf("scale %s (%d, %s s)", s, p, d), rw, rc, rm / 1024, tw, tc, tm / 1024, tc / rc, tm / rm, e }'
    done
done
echo
for i in "${!notes[@]}"; do echo "($((i + 1))) memory caps reached: ${notes[$i]}"; done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
