# hoptrace: the two commands of the README, and the helpers around them.
SWIFT ?= swift
BIN := .build/release/hoptrace
# The demo traces two bundled lab captures: a SYN dropped after kube-proxy's DNAT, and a slow server.
DEMO ?= captures/clusterip-drop.pcapng captures/clusterip-slow-server.pcapng

.PHONY: all deps test-deps build demo test lint format fuzz fuzz-smoke bench bench-micro lab clean

all: build

deps:
	@tools/setup.sh build

test-deps:
	@tools/setup.sh test

build: deps
	$(SWIFT) build -c release --product hoptrace

## demo: install what is missing, build, and trace a bundled lab capture.
demo: build
	@for capture in $(DEMO); do \
		k8s=$${capture%.pcapng}.k8s.json; \
		echo "\$$ hoptrace trace $$capture --k8s $$k8s"; \
		$(BIN) trace $$capture --k8s $$k8s || exit 1; echo; \
	done

## test: install what is missing, build, run every test (the fuzz crash corpus included, HoptraceFuzzTests), the
## format check, and a short smoke of every fuzz target under libFuzzer and the sanitizers (FUZZ_SMOKE=0 skips it).
FUZZ_SMOKE ?= 8
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) lint
	$(if $(filter 0,$(FUZZ_SMOKE)),,$(MAKE) fuzz-smoke)

lint:
	$(SWIFT) format lint --strict --recursive --parallel Sources Tests Package.swift

format:
	$(SWIFT) format format --in-place --recursive --parallel Sources Tests Package.swift

## fuzz: every fuzz target for FUZZ_SECONDS (60) each; tools/fuzz/run.sh TARGET SECONDS for one.
fuzz: deps
	tools/fuzz/run.sh

## fuzz-smoke: each target's committed crash inputs replayed under the sanitizers, then FUZZ_SMOKE seconds of fuzzing.
fuzz-smoke:
	tools/fuzz/run.sh --smoke $(FUZZ_SMOKE)

## bench: hoptrace against tcpdump and tshark on a generated 2.8 M-packet node capture (median of 5, one core);
## SCALE=2, FORMAT=pcapng, RUNS, TSHARK_SCALE=0.1 (tshark on a smaller file) as in tools/bench/compare.sh; then the
## flow stage's peak RSS as the file grows and per concurrent flow (tools/bench/memory.sh).
bench: test-deps build
	tools/bench/compare.sh
	tools/bench/memory.sh

## bench-micro: the decode micro-benchmarks (ns/packet, 0 mallocs/packet) against Benchmarks/Thresholds.
bench-micro: deps
	tools/bench/run.sh

## lab: regenerate captures/ (root): each scenario captured at once by `tcpdump -i any` (SLL2) and by
## `hoptrace capture -i any` (pcapng, one named interface block per interface). LAB_PCAPNG_WRITER=dumpcap uses
## dumpcap instead (one Ethernet interface block per interface).
LAB_PCAPNG_WRITER ?= hoptrace
lab: test-deps
	$(if $(filter hoptrace,$(LAB_PCAPNG_WRITER)),$(SWIFT) build -c release --product hoptrace)
	python3 tools/lab/lab.py all --pcapng-writer $(LAB_PCAPNG_WRITER)

clean:
	rm -rf .build
