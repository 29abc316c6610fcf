#!/usr/bin/env bash
# Side by side on one veth: `hoptrace capture` and tcpdump, each with its defaults, receive one burst of UDP
# datagrams sent as fast as one Python loop can from another namespace. Prints one line per run:
#   mode=IF|any count=N size=BYTES seconds=S sent_pps=R hoptrace=N tcpdump=N hoptrace_dropped=N tcpdump_dropped=N
# where the counts are the datagrams of the burst in each file, as capinfos (Wireshark) counts them.
#
#   tools/lab/burst.sh BINARY COUNT SIZE MODE [REPEAT] [-- extra hoptrace capture options]
#
# Root only. Namespaces are hb<pid>a/hb<pid>b; every process started is stopped by its PID and the namespaces and
# files are removed on exit, also when interrupted.
set -euo pipefail
binary=$1 count=$2 size=$3 mode=$4 repeat=${5:-1}
shift $(($# < 5 ? $# : 5))
[ "${1:-}" = "--" ] && shift
extra=("$@")

a=hb$$a b=hb$$b work=$(mktemp -d /tmp/hoptrace-burst.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$a"
ip netns add "$b"
for ns in "$a" "$b"; do
    ip netns exec "$ns" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
    ip -n "$ns" link set lo up
done
ip -n "$a" link add v0 type veth peer name v1 netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev v0
ip -n "$b" addr add 10.77.0.2/24 dev v1
ip -n "$a" link set v0 up
ip -n "$b" link set v1 up
# Static neighbour: no ARP in the burst.
ip -n "$a" neigh replace 10.77.0.2 lladdr "$(ip -n "$b" -j link show v1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')" dev v0
iface=v1
[ "$mode" = any ] && iface=any

count_of() { capinfos -c -M "$1" 2>/dev/null | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}'; }
# Up to 30 s: on a loaded machine tcpdump can take seconds to open its handle (5 s was too short under CI load).
waitfor() {
    for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "burst.sh: no \"$2\" in $1 after 30 s: $(cat "$1" 2>/dev/null)" >&2
    return 1
}

for run in $(seq "$repeat"); do
    rm -f "$work"/*
    ip netns exec "$b" "$binary" capture -i "$iface" -f 'udp port 9999' -w "$work/h.pcapng" --no-status \
        ${extra[@]+"${extra[@]}"} 2>"$work/h.err" &
    pids+=($!)
    hpid=$!
    ip netns exec "$b" tcpdump -i "$iface" -U -w "$work/t.pcap" 'udp port 9999' 2>"$work/t.err" &
    pids+=($!)
    tpid=$!
    waitfor "$work/t.err" "listening on"
    # hoptrace says nothing when it listens: wait for its output file to exist, then half a second more.
    for _ in $(seq 600); do [ -e "$work/h.pcapng" ] && break; sleep 0.05; done
    sleep 0.5
    sent=$(ip netns exec "$a" python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
p = b'x' * $size
t = time.monotonic()
for i in range($count):
    s.sendto(p, ('10.77.0.2', 9999))
print('%.3f' % (time.monotonic() - t))
")
    sleep 0.5
    kill -TERM "$hpid"
    kill -INT "$tpid"
    wait "$hpid" || true
    wait "$tpid" || true
    h=$(count_of "$work/h.pcapng")
    t=$(count_of "$work/t.pcap")
    # (A missing line must not end the script silently under pipefail: it shows as -1 / ? in the report.)
    hd=$({ grep -o '[0-9]* dropped by kernel' "$work/h.err" || echo "-1 dropped by kernel"; } | awk '{s += $1} END {print s + 0}')
    td=$({ grep -o '^[0-9]* packets dropped by kernel' "$work/t.err" || true; } | awk '{print $1}')
    pps=$(python3 -c "print(int($count / max($sent, 1e-6)))")
    echo "mode=$mode count=$count size=$size seconds=$sent sent_pps=$pps hoptrace=$h tcpdump=$t hoptrace_dropped=$hd tcpdump_dropped=${td:-?}"
done
