#!/usr/bin/env bash
# hoptrace against tcpdump (the libpcap floor) and tshark on the same generated node capture (tools/bench/gen.py):
# median wall time of RUNS runs each, pinned to one core (taskset -c $CPU), page cache warm; peak RSS (max of the
# runs, /usr/bin/time -f %M); ns/packet, packets/s, ratios against (a) tcpdump, (e) tshark conv,tcp and (f) tshark
# fields. Not a timed test: numbers for the README and reports.
#
#   tools/bench/compare.sh [FILE]            default: generates .build/bench/x1 (scale 1, ~2.1 M packets)
# Environment: SCALE (1), FORMAT (sll2.pcap | pcapng), RUNS (5), TSHARK_RUNS (RUNS), TSHARK_SCALE (unset: tshark on
# FILE itself; else tshark on a smaller file of the same generator at that scale, per-packet numbers extrapolated),
# TRACE_SCALE and TRACE_RUNS (the same for (d): trace keeps every connection for correlation and is superlinear),
# CPU (1), HOPTRACE (.build/release/hoptrace, built when missing), SKIP_TSHARK=1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_DIR:-$ROOT/.build/bench}
SCALE=${SCALE:-1}
FORMAT=${FORMAT:-sll2.pcap}
RUNS=${RUNS:-5}
TSHARK_RUNS=${TSHARK_RUNS:-$RUNS}
CPU=${CPU:-1}
HOPTRACE=${HOPTRACE:-$ROOT/.build/release/hoptrace}
mkdir -p "$OUT"

if [ ! -x "$HOPTRACE" ]; then (cd "$ROOT" && swift build -c release --product hoptrace); fi
generate() { # scale -> path of the file in FORMAT
    local prefix=$OUT/x$1
    if [ ! -f "$prefix.$FORMAT" ]; then python3 "$ROOT/tools/bench/gen.py" --scale "$1" "$prefix" >&2; fi
    echo "$prefix.$FORMAT"
}
FILE=${1:-$(generate "$SCALE")}
TFILE=$FILE
if [ -n "${TSHARK_SCALE:-}" ]; then TFILE=$(generate "$TSHARK_SCALE"); fi
DFILE=$FILE
if [ -n "${TRACE_SCALE:-}" ]; then DFILE=$(generate "$TRACE_SCALE"); fi
count() { capinfos -M -c -T "$1" | awk -F'\t' 'NR==2 {print $2}'; }
PACKETS=$(count "$FILE")
TPACKETS=$(count "$TFILE")
DPACKETS=$(count "$DFILE")

# run NAME RUNS FILE PACKETS COMMAND... : prints "NAME median_seconds max_rss_kib packets"
run() {
    local name=$1 runs=$2 file=$3 packets=$4
    shift 4
    local times=() cpus=() rss=0 i
    cat "$file" > /dev/null # warm the page cache
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -f '%e %M %U %S' -o "$OUT/time.txt" taskset -c "$CPU" "$@" > /dev/null 2> "$OUT/stderr.txt" || {
            echo "$name failed: $(tail -1 "$OUT/stderr.txt")" >&2
            return 1
        }
        read -r t m u s < <(tail -1 "$OUT/time.txt")
        times+=("$t")
        cpus+=("$(echo "$u + $s" | bc)")
        ((m > rss)) && rss=$m
    done
    local median cpu
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$name $median $cpu $rss $packets $runs"
}

RESULTS=$OUT/results.txt
: > "$RESULTS"
{
    run "(a) tcpdump -r FILE -w /dev/null" "$RUNS" "$FILE" "$PACKETS" tcpdump -r "$FILE" -w /dev/null
    run "(b) hoptrace flows FILE" "$RUNS" "$FILE" "$PACKETS" "$HOPTRACE" flows "$FILE"
    run "(c) hoptrace requests FILE" "$RUNS" "$FILE" "$PACKETS" "$HOPTRACE" requests "$FILE"
    run "(d) hoptrace trace --all --json FILE" "${TRACE_RUNS:-$RUNS}" "$DFILE" "$DPACKETS" \
        "$HOPTRACE" trace --all --json "$DFILE"
    if [ -z "${SKIP_TSHARK:-}" ]; then
        run "(e) tshark -q -z conv,tcp" "$TSHARK_RUNS" "$TFILE" "$TPACKETS" tshark -r "$TFILE" -q -z conv,tcp
        run "(f) tshark -T fields http.time dns.time tcp.analysis.flags" "$TSHARK_RUNS" "$TFILE" "$TPACKETS" \
            tshark -r "$TFILE" -T fields -e http.time -e dns.time -e tcp.analysis.flags
    fi
} | tee -a "$RESULTS" > /dev/null

echo "file: $FILE ($PACKETS packets, $(du -m "$FILE" | cut -f1) MB); tshark file: $TFILE ($TPACKETS packets);"
echo "trace file: $DFILE ($DPACKETS packets)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), pinned to CPU $CPU"
awk '
    { n = split($0, f, " "); name = f[1]; for (i = 2; i <= n - 5; i++) name = name " " f[i]
      names[NR] = name; secs[NR] = f[n-4]; cpu[NR] = f[n-3]; rss[NR] = f[n-2]; pk[NR] = f[n-1]; runs[NR] = f[n]
      nsp[NR] = secs[NR] * 1e9 / pk[NR]; cns[NR] = cpu[NR] * 1e9 / pk[NR]; tag[NR] = substr(name, 2, 1) }
    END {
      for (i = 1; i <= NR; i++) idx[tag[i]] = i
      printf "| %-58s | runs | wall s | ns/packet | packets/s | CPU ns/packet | peak RSS MiB | vs (a) | (e)/x | (f)/x |\n", "command"
      printf "|%s|-----:|-------:|----------:|----------:|--------------:|-------------:|-------:|------:|------:|\n", "------------------------------------------------------------"
      for (i = 1; i <= NR; i++) {
        ra = ("a" in idx) ? sprintf("%.2fx", nsp[i] / nsp[idx["a"]]) : "-"
        re = ("e" in idx) ? sprintf("%.1f", nsp[idx["e"]] / nsp[i]) : "-"
        rf = ("f" in idx) ? sprintf("%.1f", nsp[idx["f"]] / nsp[i]) : "-"
        printf "| %-58s | %4d | %6.2f | %9.0f | %9.0f | %13.0f | %12.1f | %6s | %5s | %5s |\n", names[i], runs[i], secs[i], nsp[i], 1e9 / nsp[i], cns[i], rss[i] / 1024, ra, re, rf
      }
    }' "$RESULTS"
echo "ns/packet = median wall time / packets of the file that command read; CPU ns/packet = median user+sys time /"
echo "packets (steadier than wall time on a shared machine); vs (a): times the tcpdump floor; (e)/x, (f)/x: how many"
echo "times faster than tshark per packet (wall)."
