#!/usr/bin/env bash
# Peak RSS of the flow stage (`hoptrace requests`; /usr/bin/time -f %M, max of RUNS runs) on captures of the bench
# generator (tools/bench/gen.py, SLL2):
#   1. flat as the file grows: the same traffic mix at scale S, 2S and 4S (same concurrency FLAT_C; the default 25
#      makes captures of 33, 67 and 134 s, far longer than what the flow stage holds: closed connections linger 5 s);
#   2. cost per concurrent flow: scale SF at two concurrencies C1 < C2 with the same packet rate (gen.py --slowdown
#      C2/C1 on the second: its conversations are that much slower), so the same connections close per second and
#      linger; only the concurrent ones differ. Every connection is seen at three capture points and is tracked once
#      per point, so the extra concurrent flows are 3 * (C2 - C1), and (RSS(C2) - RSS(C1)) / (3 * (C2 - C1)) is
#      the marginal memory per tracked flow;
#   3. the fixed base: a lab capture of a few dozen packets.
# With the generator's event-driven timing the packet rate grows with the concurrency (25: ~21,000 packets/s;
# 2000: the whole scale-0.25 file in 0.75 s), so a dense file is shorter than the flow stage's windows and its
# memory grows with the file: that is what the old defaults (2000 concurrent; 1000 vs 4000) measured.
# Not a timed test: numbers for the README and reports.
#
#   tools/bench/memory.sh          Environment: S (0.25), FLAT_C (25), SF (0.5), C1 (100), C2 (400), RUNS (3),
#                                  HOPTRACE (.build/release/hoptrace), BENCH_DIR (.build/bench)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_DIR:-$ROOT/.build/bench}
S=${S:-0.25}
FLAT_C=${FLAT_C:-25}
SF=${SF:-0.5}
C1=${C1:-100}
C2=${C2:-400}
RUNS=${RUNS:-3}
HOPTRACE=${HOPTRACE:-$ROOT/.build/release/hoptrace}
mkdir -p "$OUT"
if [ ! -x "$HOPTRACE" ]; then (cd "$ROOT" && swift build -c release --product hoptrace); fi

# file SCALE CONCURRENCY [SLOWDOWN] -> path (generated once)
file() {
    local slowdown=${3:-1}
    local prefix="$OUT/mem-s$1-c$2-d$slowdown"
    if [ ! -f "$prefix.sll2.pcap" ]; then
        python3 "$ROOT/tools/bench/gen.py" --scale "$1" --concurrency "$2" --slowdown "$slowdown" --format sll2 \
            "$prefix" >&2
    fi
    echo "$prefix.sll2.pcap"
}
# peak FILE -> max RSS in KiB over RUNS runs
peak() {
    local max=0 i m
    for ((i = 0; i < RUNS; i++)); do
        /usr/bin/time -f '%M' -o "$OUT/mem-time.txt" "$HOPTRACE" requests "$1" > /dev/null
        m=$(tail -1 "$OUT/mem-time.txt")
        ((m > max)) && max=$m
    done
    echo "$max"
}
packets() { capinfos -M -c -T "$1" | awk -F'\t' 'NR==2 {print $2}'; }
seconds() { capinfos -M -u -T "$1" | awk -F'\t' 'NR==2 {printf "%.0f", $2}'; }

base=$(peak "$ROOT/captures/clusterip-drop/any.sll2.pcap")
echo "| input | packets | capture s | concurrency | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|"
printf "| base: captures/clusterip-drop/any.sll2.pcap | %s | - | - | %.1f |\n" \
    "$(packets "$ROOT/captures/clusterip-drop/any.sll2.pcap")" "$(echo "$base / 1024" | bc -l)"
for k in 1 2 4; do
    scale=$(echo "$S * $k" | bc -l | sed 's/^\./0./; s/0*$//; s/\.$//')
    f=$(file "$scale" "$FLAT_C")
    printf "| scale %s (%sx) | %s | %s | %s | %.1f |\n" "$scale" "$k" "$(packets "$f")" "$(seconds "$f")" "$FLAT_C" \
        "$(echo "$(peak "$f") / 1024" | bc -l)"
done
slowdown=$(echo "$C2 / $C1" | bc -l | sed 's/0*$//; s/\.$//')
f1=$(file "$SF" "$C1")
f2=$(file "$SF" "$C2" "$slowdown")
r1=$(peak "$f1")
r2=$(peak "$f2")
printf "| scale %s | %s | %s | %s | %.1f |\n" "$SF" "$(packets "$f1")" "$(seconds "$f1")" "$C1" "$(echo "$r1 / 1024" | bc -l)"
printf "| scale %s, --slowdown %s | %s | %s | %s | %.1f |\n" "$SF" "$slowdown" "$(packets "$f2")" "$(seconds "$f2")" "$C2" \
    "$(echo "$r2 / 1024" | bc -l)"
printf "marginal memory per concurrent tracked flow: (%s - %s) KiB / (3 x (%s - %s)) = %.2f KiB\n" \
    "$r2" "$r1" "$C2" "$C1" "$(echo "($r2 - $r1) / (3 * ($C2 - $C1))" | bc -l)"
