#!/usr/bin/env bash
# hoptrace's pcap and pcapng readers against libpcap's pcap_next_ex over the same big file: ns/packet, median of 5
# runs (page cache warm), and the peak RSS of one run. Not a timed test: numbers for reports.
#
#   tools/bench/readers.sh [PACKETS]      default 1000000 packets
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CORPUS=$ROOT/Tests/Corpus
OUT=$ROOT/.build/bench-readers
PACKETS=${1:-1000000}
mkdir -p "$OUT"

# The file: the packets of a real HTTP capture (zeek's 1000-requests, 64-1514 bytes) repeated until PACKETS,
# timestamps kept increasing; then the same packets as pcapng (editcap).
python3 - "$CORPUS/zeek/http/1000-requests-one-dropped-response.pcap" "$OUT/big.pcap" "$PACKETS" <<'PY'
import struct, sys
src, dst, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, 'rb').read()
assert data[:4] == b'\xd4\xc3\xb2\xa1', 'expects a little-endian microsecond pcap'
records, off = [], 24
while off + 16 <= len(data):
    sec, usec, cap, length = struct.unpack('<IIII', data[off:off+16])
    records.append((cap, length, data[off+16:off+16+cap])); off += 16 + cap
with open(dst, 'wb') as f:
    f.write(data[:24])
    t = 1_700_000_000 * 1_000_000
    for i in range(want):
        cap, length, payload = records[i % len(records)]
        t += 7
        f.write(struct.pack('<IIII', t // 1_000_000, t % 1_000_000, cap, length)); f.write(payload)
PY
editcap -F pcapng "$OUT/big.pcap" "$OUT/big.pcapng"

swiftc -O -wmo -module-name ReadersBench -I "$ROOT/Sources/CPcap" "$ROOT/tools/bench/readers/main.swift" \
    "$ROOT"/Sources/HoptraceCapture/*.swift -lpcap -o "$OUT/readers"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for file in big.pcap big.pcapng; do
    size=$(du -m "$OUT/$file" | cut -f1)
    for reader in hoptrace libpcap; do
        "$OUT/readers" "$reader" "$OUT/$file" > /dev/null  # warm the page cache
        runs=()
        for _ in 1 2 3 4 5; do runs+=("$("$OUT/readers" "$reader" "$OUT/$file")"); done
        ns=$(printf '%s\n' "${runs[@]}" | awk '{print $3}' | median)
        rss=$(printf '%s\n' "${runs[@]}" | awk '{print $4}' | median)
        count=$(printf '%s\n' "${runs[0]}" | awk '{print $1}')
        printf '%-8s %-9s %8s packets %5s MB  %6s ns/packet (median of 5)  peak RSS %6s KiB\n' \
            "$reader" "$file" "$count" "$size" "$ns" "$rss"
    done
done
