#!/usr/bin/env bash
# Installs the Debian packages hoptrace builds, tests, demos and benchmarks with, when they are missing.
#   tools/setup.sh build | test | bench      (bench: make bench's tools, tools/bench/compare.sh's peers included)
# Idempotent: a machine that has them all is left alone (no apt-get update).
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

want=(libpcap-dev pkg-config)
case "${1:-build}" in
    build) ;;
    test) want+=(tshark wireshark-common tcpdump iproute2 iptables nginx-light dnsmasq-base dnsutils curl python3 musl-tools
                 util-linux chromium clickhouse-server) ;;
    # tools/bench: tcpdump (the floor), tshark and capinfos, the peers of tools/bench/compare.sh (tcptrace,
    # ndpiReader from libndpi-bin, httpry), taskset (util-linux), /usr/bin/time, bc, python3 (gen.py).
    bench) want+=(tshark wireshark-common tcpdump tcptrace libndpi-bin httpry util-linux time bc python3) ;;
    *) echo "usage: tools/setup.sh [build|test|bench]" >&2; exit 2 ;;
esac

for p in "${want[@]}"; do have_pkg "$p" || need+=("$p"); done
# The trace JSON schema test validates with python-jsonschema.
if [ "${1:-build}" = test ] && ! python3 -c 'import jsonschema' 2>/dev/null; then
    python3 -m pip install -q jsonschema || echo "tools/setup.sh: pip install jsonschema failed" >&2
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
        echo "tools/setup.sh: missing packages (${need[*]}) and not root; run: apt-get install ${need[*]}" >&2
        exit 1
    fi
else
    SUDO=
fi
echo "tools/setup.sh: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
