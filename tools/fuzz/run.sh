#!/usr/bin/env bash
# Builds a libFuzzer driver for one fuzz target and runs it for a bounded time.
#
#   tools/fuzz/run.sh TARGET [SECONDS]     e.g. tools/fuzz/run.sh pcapng 120
#   tools/fuzz/run.sh                      every target in tools/fuzz/targets/, 60 s each
#   tools/fuzz/run.sh --list               the targets
#
# A target is tools/fuzz/targets/<name>.swift: it defines `func fuzzOne(_ data: [UInt8])` and says which package
# modules it needs, in dependency order, on a line `// fuzz-modules: HoptraceCapture HoptraceDecode`, and where its
# seeds come from on a line `// fuzz-seeds: *.pcap *.pcapng` (globs under the repository's
# corpus, Tests/Corpus). Each module is compiled with swiftc (-sanitize=fuzzer,address, -enable-testing so the target
# may `@testable import` it) into a static library; the target and tools/fuzz/Driver.swift (LLVMFuzzerTestOneInput)
# are linked against them. Crashing inputs land in tools/fuzz/artifacts/; turn each into a regression test
# (Tests/HoptraceCaptureTests/Fixtures/) and delete it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ=$ROOT/tools/fuzz
CORPUS=$ROOT/Tests/Corpus
BUILD=$ROOT/.build/fuzz
SWIFTC=${SWIFTC:-swiftc}

# Targets: tools/fuzz/targets/<name>.swift, and tools/fuzz/run-<name>.sh scripts of their own (decode).
list_targets() {
    for f in "$FUZZ"/targets/*.swift; do basename "$f" .swift; done
    for f in "$FUZZ"/run-*.sh; do [[ -e $f ]] && basename "$f" .sh | sed 's/^run-//'; done
}

if [[ ${1:-} == --list ]]; then list_targets; exit 0; fi
if [[ $# -eq 0 ]]; then
    for t in $(list_targets); do "$0" "$t" 60; done
    exit 0
fi

TARGET=$1
SECONDS_TO_RUN=${2:-60}
SOURCE=$FUZZ/targets/$TARGET.swift
if [[ ! -f $SOURCE && -x $FUZZ/run-$TARGET.sh ]]; then exec "$FUZZ/run-$TARGET.sh" "$SECONDS_TO_RUN"; fi
[[ -f $SOURCE ]] || { echo "no fuzz target '$TARGET'; targets: $(list_targets | tr '\n' ' ')" >&2; exit 2; }

MODULES=$(sed -n 's|^// fuzz-modules:||p' "$SOURCE")
SEEDS=$(sed -n 's|^// fuzz-seeds:||p' "$SOURCE")
OUT=$BUILD/$TARGET
mkdir -p "$OUT/lib" "$OUT/corpus" "$OUT/seeds" "$FUZZ/artifacts"

FLAGS=(-O -g -sanitize=fuzzer,address -parse-as-library -swift-version 6 -package-name hoptrace -I "$OUT/lib" -I "$ROOT/Sources/CPcap")
LIBS=()
for module in $MODULES; do
    mapfile -t files < <(find "$ROOT/Sources/$module" -name '*.swift' | sort)
    echo "fuzz: compiling $module (${#files[@]} files)" >&2
    (cd "$OUT/lib" && "$SWIFTC" "${FLAGS[@]}" -enable-testing -module-name "$module" -emit-module \
        -emit-module-path "$OUT/lib/$module.swiftmodule" -emit-library -static -o "$OUT/lib/lib$module.a" \
        "${files[@]}")
    # Static libraries link dependents first: prepend, so a module comes before the modules it uses.
    LIBS=("$OUT/lib/lib$module.a" "${LIBS[@]}")
done
echo "fuzz: linking $TARGET" >&2
"$SWIFTC" "${FLAGS[@]}" -module-name "Fuzz_$TARGET" "$FUZZ/Driver.swift" "$SOURCE" "${LIBS[@]}" -lpcap \
    -o "$OUT/fuzz-$TARGET"

# Seeds: corpus files matching the target's globs, tools/fuzz/seeds/<target>/, plus the committed regression inputs.
rm -f "$OUT/seeds"/*
for glob in $SEEDS; do
    find "$CORPUS" -name "$glob" -size -2M -exec cp {} "$OUT/seeds/" \; 2>/dev/null || true
done
if [[ -d $FUZZ/seeds/$TARGET ]]; then
    cp "$FUZZ/seeds/$TARGET"/* "$OUT/seeds/"
fi
if [[ -d $ROOT/Tests/HoptraceCaptureTests/Fixtures ]]; then
    find "$ROOT/Tests/HoptraceCaptureTests/Fixtures" -name 'fuzz-*' -exec cp {} "$OUT/seeds/" \;
fi
echo "fuzz: running $TARGET for ${SECONDS_TO_RUN}s with $(ls "$OUT/seeds" | wc -l) seeds" >&2
"$OUT/fuzz-$TARGET" -max_total_time="$SECONDS_TO_RUN" -max_len=262144 -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$FUZZ/artifacts/$TARGET-" "$OUT/corpus" "$OUT/seeds"
