#!/usr/bin/env bash
# Peak RSS of the flow stage (`hoptrace requests`; /usr/bin/time -f %M, max of RUNS runs) on captures of the bench
# generator (tools/bench/gen.py, SLL2):
#   1. flat as the file grows: the same traffic mix at scale S, 2S and 4S (same concurrency);
#   2. cost per concurrent flow: the same scale at two concurrencies C1 < C2. Every connection is seen at three
#      capture points and is tracked once per point, so the extra concurrent flows are 3 * (C2 - C1), and
#      (RSS(C2) - RSS(C1)) / (3 * (C2 - C1)) is the marginal memory per tracked flow;
#   3. the fixed base: a lab capture of a few dozen packets.
# Not a timed test: numbers for the README and reports.
#
#   tools/bench/memory.sh          Environment: S (0.25), C1 (1000), C2 (4000), RUNS (3),
#                                  HOPTRACE (.build/release/hoptrace), BENCH_DIR (.build/bench)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_DIR:-$ROOT/.build/bench}
S=${S:-0.25}
C1=${C1:-1000}
C2=${C2:-4000}
RUNS=${RUNS:-3}
HOPTRACE=${HOPTRACE:-$ROOT/.build/release/hoptrace}
mkdir -p "$OUT"
if [ ! -x "$HOPTRACE" ]; then (cd "$ROOT" && swift build -c release --product hoptrace); fi

# file SCALE CONCURRENCY -> path (generated once)
file() {
    local prefix="$OUT/mem-s$1-c$2"
    if [ ! -f "$prefix.sll2.pcap" ]; then
        python3 "$ROOT/tools/bench/gen.py" --scale "$1" --concurrency "$2" --format sll2 "$prefix" >&2
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

base=$(peak "$ROOT/captures/clusterip-drop/any.sll2.pcap")
echo "| input | packets | concurrency | peak RSS MiB |"
echo "|---|---:|---:|---:|"
printf "| base: captures/clusterip-drop/any.sll2.pcap | %s | - | %.1f |\n" \
    "$(packets "$ROOT/captures/clusterip-drop/any.sll2.pcap")" "$(echo "$base / 1024" | bc -l)"
for k in 1 2 4; do
    scale=$(echo "$S * $k" | bc -l | sed 's/^\./0./; s/0*$//; s/\.$//')
    f=$(file "$scale" 2000)
    printf "| scale %s (%sx) | %s | 2000 | %.1f |\n" "$scale" "$k" "$(packets "$f")" "$(echo "$(peak "$f") / 1024" | bc -l)"
done
f1=$(file "$S" "$C1")
f2=$(file "$S" "$C2")
r1=$(peak "$f1")
r2=$(peak "$f2")
printf "| scale %s | %s | %s | %.1f |\n" "$S" "$(packets "$f1")" "$C1" "$(echo "$r1 / 1024" | bc -l)"
printf "| scale %s | %s | %s | %.1f |\n" "$S" "$(packets "$f2")" "$C2" "$(echo "$r2 / 1024" | bc -l)"
printf "marginal memory per concurrent tracked flow: (%s - %s) KiB / (3 x (%s - %s)) = %.2f KiB\n" \
    "$r2" "$r1" "$C2" "$C1" "$(echo "($r2 - $r1) / (3 * ($C2 - $C1))" | bc -l)"
