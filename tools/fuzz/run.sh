#!/usr/bin/env bash
# Builds libFuzzer drivers for the fuzz targets and runs them for a bounded time.
#
#   tools/fuzz/run.sh TARGET [SECONDS]     e.g. tools/fuzz/run.sh pcapng 120
#   tools/fuzz/run.sh                      every target in tools/fuzz/targets/, FUZZ_SECONDS (60) each (make fuzz)
#   tools/fuzz/run.sh --smoke [SECONDS]    every target for SECONDS (8) each, after replaying its crash corpus
#   tools/fuzz/run.sh --build TARGET       only build the driver (prints its path)
#   tools/fuzz/run.sh --list               the targets
#   FUZZ_FLAGS="-fork=1 -ignore_crashes=1"  extra libFuzzer flags (keep going after a crash, collecting each)
#
# A target is tools/fuzz/targets/<name>.swift. Its header says which package modules it needs, in dependency order
# (`// fuzz-modules: HoptraceCapture HoptraceDecode`; `Yams` builds the Yams checkout with its C library), the
# function libFuzzer calls (`// fuzz-entry: fuzzPcap`, taking `[UInt8]`), where its seeds come from
# (`// fuzz-seeds: *.pcap *.pcapng`, globs under Tests/Corpus and captures/), and optionally
# `// fuzz-mutator: capture` to link the structure-aware capture mutator (CaptureMutator.swift). Each module is
# compiled once with swiftc (-sanitize=fuzzer,address, -enable-testing so that a target may `@testable import`) into
# a static library shared by the targets; the target, Driver.swift and a generated `fuzzOne` are linked against them.
#
# Crashing inputs land in tools/fuzz/artifacts/. Fix the crash, then move the input to tools/fuzz/crashes/<target>/:
# the test suite (HoptraceFuzzTests, run by `make test`) feeds every committed crash input through the same entry
# point and requires that it end cleanly, and the smoke run replays them under the sanitizers.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ=$ROOT/tools/fuzz
BUILD=$ROOT/.build/fuzz
LIB=$BUILD/lib
SWIFTC=${SWIFTC:-swiftc}
CLANG=${CLANG:-clang}

list_targets() {
    for f in "$FUZZ"/targets/*.swift; do basename "$f" .swift; done
}

header() { sed -n "s|^// $2:||p" "$FUZZ/targets/$1.swift" | head -1; }

FLAGS=(-O -g -sanitize=fuzzer,address -parse-as-library -package-name hoptrace -I "$LIB")

# Builds one module's static library into $LIB unless it is newer than every source it comes from and every
# library built before it for this target (its dependencies: a stale dependent module would not match their layout).
build_module() {
    local module=$1 sources=() stamp=$LIB/lib$1.a dependency
    shift
    mkdir -p "$LIB"
    if [[ $module == Yams ]]; then
        set --  # Yams depends on none of ours
        local yams=$ROOT/.build/checkouts/Yams/Sources
        [[ -d $yams ]] || (cd "$ROOT" && swift package resolve >/dev/null)
        if [[ ! -f $LIB/libCYaml.a || -n $(find "$yams/CYaml" -newer "$LIB/libCYaml.a" -name '*.[ch]' | head -1) ]]; then
            echo "fuzz: compiling CYaml" >&2
            rm -rf "$LIB/cyaml" && mkdir -p "$LIB/cyaml"
            for c in "$yams"/CYaml/src/*.c; do
                "$CLANG" -c -O1 -g -fsanitize=fuzzer-no-link,address -DYAML_DECLARE_EXPORT \
                    -I "$yams/CYaml/include" -I "$yams/CYaml/src" "$c" -o "$LIB/cyaml/$(basename "$c" .c).o"
            done
            ar rcs "$LIB/libCYaml.a" "$LIB"/cyaml/*.o
        fi
        mapfile -t sources < <(find "$yams/Yams" -name '*.swift' | sort)
        EXTRA=(-swift-version 5 -DSWIFT_PACKAGE -I "$yams/CYaml/include" -Xcc -DYAML_DECLARE_EXPORT)
    else
        mapfile -t sources < <(find "$ROOT/Sources/$module" -name '*.swift' | sort)
        EXTRA=(-swift-version 6 -I "$ROOT/Sources/CPcap")
    fi
    local stale=""
    for dependency in "$@"; do
        if [[ $LIB/lib$dependency.a -nt $stamp ]]; then stale=1; fi
    done
    if [[ -f $stamp && -z $stale && -z $(find "${sources[@]}" -newer "$stamp" | head -1) ]]; then return; fi
    echo "fuzz: compiling $module (${#sources[@]} files)" >&2
    (cd "$LIB" && "$SWIFTC" "${FLAGS[@]}" "${EXTRA[@]}" -enable-testing -module-name "$module" -emit-module \
        -emit-module-path "$LIB/$module.swiftmodule" -emit-library -static -o "$stamp.tmp" "${sources[@]}")
    mv "$stamp.tmp" "$stamp"
}

# Builds the driver of one target; prints its path.
build_target() {
    local target=$1 source=$FUZZ/targets/$1.swift out=$BUILD/$1
    [[ -f $source ]] || { echo "no fuzz target '$target'; targets: $(list_targets | tr '\n' ' ')" >&2; exit 2; }
    local modules entry mutator libs=() extra=()
    modules=$(header "$target" fuzz-modules)
    entry=$(header "$target" fuzz-entry | tr -d ' ')
    mutator=$(header "$target" fuzz-mutator | tr -d ' ')
    [[ -n $entry ]] || { echo "$source: no '// fuzz-entry:' line" >&2; exit 2; }
    local built=()
    for module in $modules; do
        build_module "$module" "${built[@]}"
        built+=("$module")
        # Static libraries link dependents first: prepend, so a module comes before the modules it uses.
        libs=("$LIB/lib$module.a" "${libs[@]}")
        if [[ $module == Yams ]]; then libs+=("$LIB/libCYaml.a"); fi
    done
    mkdir -p "$out"
    printf 'func fuzzOne(_ data: [UInt8]) { %s(data) }\n' "$entry" > "$out/Entry.swift"
    if [[ $mutator == capture ]]; then extra+=("$FUZZ/CaptureMutator.swift"); fi
    echo "fuzz: linking $target" >&2
    "$SWIFTC" "${FLAGS[@]}" -swift-version 6 -I "$ROOT/Sources/CPcap" -I "$ROOT/.build/checkouts/Yams/Sources/CYaml/include" \
        -module-name "Fuzz_$target" "$FUZZ/Driver.swift" "$out/Entry.swift" "$source" "${extra[@]}" "${libs[@]}" \
        -lpcap -o "$out/fuzz-$target" 2> >(grep -v "Cannot export local symbol" >&2)
    echo "$out/fuzz-$target"
}

# Copies the target's seeds (corpus and lab files matching its globs, tools/fuzz/seeds/<target>/, its crash corpus)
# into a fresh folder.
gather_seeds() {
    local target=$1 seeds=$BUILD/$1/seeds glob
    rm -rf "$seeds" && mkdir -p "$seeds"
    for glob in $(header "$target" fuzz-seeds); do
        find "$ROOT/Tests/Corpus" "$ROOT/captures" -name "$glob" -size -2M -exec cp {} "$seeds/" \; 2>/dev/null || true
    done
    for dir in "$FUZZ/seeds/$target" "$FUZZ/crashes/$target"; do
        if [[ -d $dir ]] && compgen -G "$dir/*" >/dev/null; then cp "$dir"/* "$seeds/"; fi
    done
    echo "$seeds"
}

run_target() {
    local target=$1 seconds=$2 driver seeds
    driver=$(build_target "$target")
    seeds=$(gather_seeds "$target")
    mkdir -p "$BUILD/$target/corpus" "$FUZZ/artifacts"
    if [[ -d $FUZZ/crashes/$target ]] && compgen -G "$FUZZ/crashes/$target/*" >/dev/null; then
        echo "fuzz: replaying $(ls "$FUZZ/crashes/$target" | wc -l) crash inputs of $target" >&2
        "$driver" -rss_limit_mb=2048 -timeout=30 "$FUZZ/crashes/$target"/* >/dev/null 2>"$BUILD/$target/replay.log" || {
            cat "$BUILD/$target/replay.log" >&2
            echo "fuzz: a committed crash input of $target fails again" >&2
            return 1
        }
    fi
    echo "fuzz: running $target for ${seconds}s with $(ls "$seeds" | wc -l) seeds" >&2
    "$driver" -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$FUZZ/artifacts/$target-" ${FUZZ_FLAGS:-} "$BUILD/$target/corpus" "$seeds"
}

case ${1:-} in
    --list) list_targets ;;
    --build) build_target "$2" ;;
    --smoke)
        for t in $(list_targets); do run_target "$t" "${2:-8}"; done
        ;;
    "")
        for t in $(list_targets); do run_target "$t" "${FUZZ_SECONDS:-60}"; done
        ;;
    *) run_target "$1" "${2:-60}" ;;
esac
