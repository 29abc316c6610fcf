#!/usr/bin/env bash
# The flow stage on the flood captures of issue 20 (tools/bench/floods.py) and on ordinary traffic (tools/bench/gen.py):
# median wall and CPU time of RUNS runs pinned to one core (taskset -c CPU), CPU ns per packet, peak RSS, and the
# ratio of CPU time to the floor's (`tcpdump -r F -w /dev/null`, the cost of reading the file at all).
#
#   tools/bench/floods.sh [COMMAND...]     default: requests flows
#   Environment: HOPTRACE (.build/release/hoptrace), BENCH_DIR (.build/bench), RUNS (5), CPU (1), FILES,
#                SYN (2000000), DNS (1000000), KA (500000), SCALE (0.25, the ordinary capture)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_DIR:-$ROOT/.build/bench}
HOPTRACE=${HOPTRACE:-$ROOT/.build/release/hoptrace}
RUNS=${RUNS:-5}
CPU=${CPU:-1}
COMMANDS=("$@")
[[ ${#COMMANDS[@]} -gt 0 ]] || COMMANDS=(requests flows)
mkdir -p "$OUT"
[[ -x $HOPTRACE ]] || (cd "$ROOT" && swift build -c release --product hoptrace)

make_file() {
    local name=$1 path=$OUT/$1.pcap
    if [[ ! -f $path ]]; then
        case $name in
            syn) python3 "$ROOT/tools/bench/floods.py" syn "${SYN:-2000000}" > "$path" ;;
            dns) python3 "$ROOT/tools/bench/floods.py" dns "${DNS:-1000000}" > "$path" ;;
            ka) python3 "$ROOT/tools/bench/floods.py" ka "${KA:-500000}" > "$path" ;;
            ka-shared) python3 "$ROOT/tools/bench/floods.py" ka-shared "${KA:-500000}" > "$path" ;;
            ka-serial) python3 "$ROOT/tools/bench/floods.py" ka-serial "${KA:-500000}" > "$path" ;;
            ordinary)
                python3 "$ROOT/tools/bench/gen.py" --scale "${SCALE:-0.25}" --format sll2 "$OUT/ordinary" >&2
                mv "$OUT/ordinary.sll2.pcap" "$path"
                ;;
        esac
    fi
    echo "$path"
}

# measure FILE COMMAND... -> "median_wall_seconds median_cpu_seconds max_rss_kib" (CPU = user + system: on a shared
# machine the wall time also counts the waits for the core)
measure() {
    local file=$1 walls=() cpus=() rss=0 i line
    shift
    for ((i = 0; i < RUNS; i++)); do
        /usr/bin/time -o "$OUT/floods-time.txt" -f '%e %U %S %M' taskset -c "$CPU" "$@" "$file" > /dev/null 2>&1 || true
        line=$(tail -1 "$OUT/floods-time.txt")
        read -r wall user system kib <<< "$line"
        walls+=("$wall")
        cpus+=("$(awk -v u="$user" -v s="$system" 'BEGIN { print u + s }')")
        ((kib > rss)) && rss=$kib
    done
    local middle=$(((RUNS + 1) / 2))
    echo "$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "${middle}p") $(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "${middle}p") $rss"
}

printf '%-10s %-9s %9s %7s %7s %9s %8s %7s\n' file command packets wall_s cpu_s cpu_ns/pk peakMiB floor_x
for name in ${FILES:-ordinary syn dns ka ka-shared ka-serial}; do
    file=$(make_file "$name")
    packets=$(capinfos -c -M "$file" | sed -n 's/^Number of packets: *//p')
    read -r _ floor _ < <(measure "$file" tcpdump -w /dev/null -r)
    for command in "${COMMANDS[@]}"; do
        read -r wall cpu rss < <(measure "$file" "$HOPTRACE" "$command")
        awk -v f="$name" -v c="$command" -v p="$packets" -v w="$wall" -v s="$cpu" -v r="$rss" -v fl="$floor" 'BEGIN {
            printf "%-10s %-9s %9d %7.2f %7.2f %9.0f %8.0f %7.1f\n", f, c, p, w, s, s * 1e9 / p, r / 1024, s / (fl > 0 ? fl : 0.01) }'
    done
    awk -v f="$name" -v fl="$floor" 'BEGIN { printf "%-10s %-9s %9s %7s %7.2f\n", f, "tcpdump", "", "", fl }'
done
