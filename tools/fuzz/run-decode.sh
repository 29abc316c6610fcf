#!/usr/bin/env bash
# Builds the decoder fuzz target (tools/fuzz/FuzzDecode.swift) with libFuzzer + ASan against the HoptraceCapture and
# HoptraceDecode sources, and runs it for a bounded time.
# Usage: tools/fuzz/run-decode.sh [SECONDS]   (default 120). Crashes land in .build/fuzz/decode-artifacts/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-120}"
out="$root/.build/fuzz"
mkdir -p "$out/decode-corpus" "$out/decode-artifacts"
# HoptraceCapture's live source imports CPcap (libpcap): its module map and -lpcap.
flags=(-O -g -parse-as-library -sanitize=fuzzer,address -swift-version 6 -I "$out" -I "$root/Sources/CPcap")
cd "$out"
swiftc "${flags[@]}" -wmo -module-name HoptraceCapture -emit-module -emit-module-path "$out/HoptraceCapture.swiftmodule" \
    -c "$root"/Sources/HoptraceCapture/*.swift -o "$out/HoptraceCapture.o"
swiftc "${flags[@]}" -wmo -module-name HoptraceDecode -emit-module -emit-module-path "$out/HoptraceDecode.swiftmodule" \
    -c "$root"/Sources/HoptraceDecode/*.swift -o "$out/HoptraceDecode.o"
swiftc "${flags[@]}" -module-name FuzzDecode "$root/tools/fuzz/FuzzDecode.swift" \
    "$out/HoptraceCapture.o" "$out/HoptraceDecode.o" -lpcap -o "$out/fuzz-decode"
# Seeds: the first packets of a few corpus captures would need a reader; hand-made seeds are in tools/fuzz/seeds.
seeds=()
[ -d "$root/tools/fuzz/decode-seeds" ] && seeds+=("$root/tools/fuzz/decode-seeds")
"$out/fuzz-decode" -max_total_time="$seconds" -max_len=2048 -artifact_prefix="$out/decode-artifacts/" \
    -print_final_stats=1 "$out/decode-corpus" "${seeds[@]}"
