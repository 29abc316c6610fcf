#!/usr/bin/env bash
# hoptrace against the libpcap floor (tcpdump) and the peers that do part of its job, on the same generated node
# capture (tools/bench/gen.py), in one run: median wall and CPU (user+sys) time of RUNS runs each, pinned to one core
# (taskset -c $CPU), page cache warm; peak RSS (max of the runs, /usr/bin/time -f %M); ns/packet; ratios against
# the floor and against each peer. Not a timed test: numbers for the README and reports.
#
#   tools/bench/compare.sh
#
# 1. Peers, on x$ETHER_SCALE.ether.pcap (classic pcap, Ethernet, the client veths' view: every packet once; the
#    peers cannot read SLL2): (a) tcpdump -r F -w /dev/null, (b) hoptrace flows, (c) hoptrace requests,
#    (d) hoptrace trace --all --json, (e) tshark -q -z conv,tcp, (f) tshark -T fields, (g) tcptrace -n,
#    (h) ndpiReader -q -i, (i) httpry -r. tshark on x$TSHARK_SCALE.ether.pcap (smaller: it is slow, and its state
#    grows with the file, so per packet the smaller file flatters it). Every command's stdout goes to /dev/null.
# 2. The node (NODE=1): the SLL2 file with the three capture points of every packet, x$SCALE.sll2.pcap, as hoptrace
#    reads a node: (a)-(d), tshark (e) and (f) on x$TSHARK_SCALE.sll2.pcap, (d) on x$TRACE_SCALE.sll2.pcap if set.
#
# Environment: ETHER_SCALE (3, ~2.8 M packets), SCALE (1, ~2.8 M packets), RUNS (5), TSHARK_SCALE (0.3 for the
# Ethernet table; 0.1 for the node table: TSHARK_NODE_SCALE), TSHARK_RUNS (RUNS), TRACE_SCALE and TRACE_RUNS (node
# table's (d)), NODE (1; 0 skips table 2), CPU (1), HOPTRACE (.build/release/hoptrace, built when missing),
# SKIP_TSHARK=1, BENCH_DIR (.build/bench).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_DIR:-$ROOT/.build/bench}
ETHER_SCALE=${ETHER_SCALE:-3}
SCALE=${SCALE:-1}
RUNS=${RUNS:-5}
TSHARK_RUNS=${TSHARK_RUNS:-$RUNS}
TSHARK_SCALE=${TSHARK_SCALE:-0.3}
TSHARK_NODE_SCALE=${TSHARK_NODE_SCALE:-0.1}
TRACE_RUNS=${TRACE_RUNS:-$RUNS}
NODE=${NODE:-1}
CPU=${CPU:-1}
HOPTRACE=${HOPTRACE:-$ROOT/.build/release/hoptrace}
mkdir -p "$OUT"

if [ ! -x "$HOPTRACE" ]; then (cd "$ROOT" && swift build -c release --product hoptrace); fi
for tool in tcpdump tshark capinfos tcptrace ndpiReader httpry taskset bc; do
    command -v "$tool" > /dev/null || { echo "compare.sh: $tool missing (make bench-deps)" >&2; exit 1; }
done
# file SCALE EXT (ether.pcap | sll2.pcap) -> path, generated once (gen.py writes one format per call here)
file() {
    local prefix=$OUT/x$1 format=${2%%.*}
    if [ ! -f "$prefix.$2" ]; then python3 "$ROOT/tools/bench/gen.py" --scale "$1" --format "$format" "$prefix" >&2; fi
    echo "$prefix.$2"
}
count() { capinfos -M -c -T "$1" | awk -F'\t' 'NR==2 {print $2}'; }

# run TAG NAME RUNS FILE COMMAND... : appends "TAG|NAME|RUNS|median wall s|median CPU s|max RSS KiB|packets|file"
run() {
    local tag=$1 name=$2 runs=$3 file=$4
    shift 4
    local times=() cpus=() rss=0 i t m u s
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
    echo "$tag|$name|$runs|$median|$cpu|$rss|$(count "$file")|$(basename "$file")" >> "$RESULTS"
}

# table RESULTS PEERS... : the markdown table, then per hoptrace row how many times faster per packet than each peer
table() {
    local results=$1
    shift
    awk -F'|' -v peers="$*" '
        { tag[NR] = $1; name[NR] = $2; runs[NR] = $3; wall[NR] = $4; cpu[NR] = $5; rss[NR] = $6; pk[NR] = $7
          file[NR] = $8; nsp[NR] = $4 * 1e9 / $7; cns[NR] = $5 * 1e9 / $7; idx[$1] = NR }
        END {
          printf "| %-69s | file (packets)              | runs | wall s | ns/packet | CPU ns/packet | peak RSS MiB | vs (a) CPU |\n", "command"
          printf "|%s|-----------------------------|-----:|-------:|----------:|--------------:|-------------:|-----------:|\n", "-----------------------------------------------------------------------"
          for (i = 1; i <= NR; i++) {
            ra = ("a" in idx) ? sprintf("%.2fx", cns[i] / cns[idx["a"]]) : "-"
            printf "| %-69s | %-27s | %4d | %6.2f | %9.0f | %13.0f | %12.1f | %10s |\n", "(" tag[i] ") " name[i], file[i] " (" pk[i] ")", runs[i], wall[i], nsp[i], cns[i], rss[i] / 1024, ra
          }
          n = split(peers, p, " ")
          if (n == 0) exit
          printf "\nTimes faster per packet than the peer, CPU ns/packet (wall ns/packet in brackets):\n\n"
          label["e"] = "tshark conv,tcp"; label["f"] = "tshark fields"; label["g"] = "tcptrace"
          label["h"] = "ndpiReader"; label["i"] = "httpry"
          head = "| hoptrace        "; rule = "|-----------------"
          for (j = 1; j <= n; j++) if (p[j] in idx) {
            head = head sprintf("| %20s ", "(" p[j] ") " label[p[j]]); rule = rule "|---------------------:"
          }
          print head "|"; print rule "|"
          for (i = 1; i <= NR; i++) {
            if (tag[i] !~ /^[bcd]$/) continue
            split(name[i], w, " "); line = sprintf("| (%s) %-11s ", tag[i], w[2])
            for (j = 1; j <= n; j++) if (p[j] in idx) {
              k = idx[p[j]]; line = line sprintf("| %9.1fx (%6.1fx) ", cns[k] / cns[i], nsp[k] / nsp[i])
            }
            print line "|"
          }
        }' "$results"
}

# common FILE TSHARK_FILE TRACE_FILE : rows (a)-(f), the floor, hoptrace and tshark, of both tables
common() {
    local file=$1 tfile=$2 dfile=$3
    run a "tcpdump -r F -w /dev/null" "$RUNS" "$file" tcpdump -r "$file" -w /dev/null
    run b "hoptrace flows F" "$RUNS" "$file" "$HOPTRACE" flows "$file"
    run c "hoptrace requests F" "$RUNS" "$file" "$HOPTRACE" requests "$file"
    run d "hoptrace trace --all --json F" "$TRACE_RUNS" "$dfile" "$HOPTRACE" trace --all --json "$dfile"
    if [ -z "${SKIP_TSHARK:-}" ]; then
        run e "tshark -q -z conv,tcp" "$TSHARK_RUNS" "$tfile" tshark -r "$tfile" -q -z conv,tcp
        run f "tshark -T fields -e http.time -e dns.time -e tcp.analysis.flags" "$TSHARK_RUNS" "$tfile" \
            tshark -r "$tfile" -T fields -e http.time -e dns.time -e tcp.analysis.flags
    fi
}

machine() {
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), pinned to CPU $CPU;" \
        "load average before: $1"
}

# --- 1. the peers, on the Ethernet capture ------------------------------------------------------------------------
EFILE=$(file "$ETHER_SCALE" ether.pcap)
ETFILE=$(file "$TSHARK_SCALE" ether.pcap)
RESULTS=$OUT/results-ether.txt
: > "$RESULTS"
load=$(cut -d' ' -f1-3 /proc/loadavg)
common "$EFILE" "$ETFILE" "$EFILE"
run g "tcptrace -n F" "$RUNS" "$EFILE" tcptrace -n "$EFILE"
run h "ndpiReader -q -i F" "$RUNS" "$EFILE" ndpiReader -q -i "$EFILE"
run i "httpry -r F" "$RUNS" "$EFILE" httpry -r "$EFILE"

echo "## Peers: $EFILE ($(count "$EFILE") packets, $(du -m "$EFILE" | cut -f1) MB, Ethernet, the client veths' view)"
machine "$load"
echo "versions: $(tcpdump --version 2>&1 | head -1); $(tshark --version | head -1); $(tcptrace -v 2>&1 | grep -o 'version [0-9.]*' | head -1 | sed 's/^/tcptrace /');" \
    "$(ndpiReader -h 2>&1 | grep -o 'nDPI [0-9.]*' | head -1); $(httpry -h 2>&1 | head -1 | cut -d' ' -f1-3)"
echo
table "$RESULTS" e f g h i
echo
# what each tool found in the Ethernet file, the check that they all parsed it (README: same HTTP requests as httpry)
ours=$("$HOPTRACE" requests "$EFILE" | awk '$5 == "HTTP"' | wc -l)
dns=$("$HOPTRACE" requests "$EFILE" | awk '$5 == "DNS"' | wc -l)
conns=$("$HOPTRACE" flows "$EFILE" | awk 'NR > 1 && $4 ~ /:80$/' | wc -l)
theirs=$(httpry -r "$EFILE" 2> /dev/null | grep -cP '\t>\t' || true)
tt=$(tcptrace -n "$EFILE" 2> /dev/null | grep -cE '^ *[0-9]+: .*[0-9]+>' || true)
nd=$(ndpiReader -i "$EFILE" 2> /dev/null | awk '/Detected protocols:/ {on = 1; next} on && NF == 0 {exit}
    on {printf "%s%s %s flows", sep, $1, $NF; sep = ", "}')
echo "parsed: hoptrace requests $ours HTTP requests and $dns DNS transactions, hoptrace flows $conns TCP connections;"
echo "        httpry $theirs HTTP requests logged; tcptrace $tt TCP connections; ndpiReader: $nd"

# --- 2. the node: SLL2, three capture points ----------------------------------------------------------------------
if [ "$NODE" = 1 ]; then
    FILE=$(file "$SCALE" sll2.pcap)
    TFILE=$(file "$TSHARK_NODE_SCALE" sll2.pcap)
    DFILE=$FILE
    if [ -n "${TRACE_SCALE:-}" ]; then DFILE=$(file "$TRACE_SCALE" sll2.pcap); fi
    RESULTS=$OUT/results-sll2.txt
    : > "$RESULTS"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    common "$FILE" "$TFILE" "$DFILE"
    echo
    echo "## Node: $FILE ($(count "$FILE") packets, $(du -m "$FILE" | cut -f1) MB, SLL2, three capture points)"
    machine "$load"
    echo
    table "$RESULTS" e f
fi
echo
echo "ns/packet = median wall time / packets of the file that command read; CPU ns/packet = median user+sys time /"
echo "packets (steadier than wall time on a shared machine); vs (a) CPU: times the tcpdump floor's CPU ns/packet."
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
