# hoptrace: the two commands of the README, and the helpers around them.
SWIFT ?= swift
BIN := .build/release/hoptrace
DEMO ?= captures/clusterip-ok.pcapng
# The lab's cluster state for the demo capture, so the trace speaks in pod and Service names.
DEMO_K8S ?= $(basename $(DEMO)).k8s.json

.PHONY: all deps test-deps build demo test lint format fuzz bench bench-micro lab clean

all: build

deps:
	@tools/setup.sh build

test-deps:
	@tools/setup.sh test

build: deps
	$(SWIFT) build -c release --product hoptrace

## demo: install what is missing, build, and trace a bundled lab capture.
demo: build
	@if [ -f $(DEMO) ]; then $(BIN) trace $(DEMO) $(if $(wildcard $(DEMO_K8S)),--k8s $(DEMO_K8S)); \
	else $(BIN) packets captures/*.pcap* | head -40; fi

## test: install what is missing, build, run every test and the format check.
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) lint

lint:
	$(SWIFT) format lint --strict --recursive --parallel Sources Tests Package.swift

format:
	$(SWIFT) format format --in-place --recursive --parallel Sources Tests Package.swift

fuzz: deps
	tools/fuzz/run.sh

## bench: hoptrace against tcpdump and tshark on a generated 2.8 M-packet node capture (median of 5, one core);
## SCALE=2, FORMAT=pcapng, RUNS, TSHARK_SCALE=0.1 (tshark on a smaller file) as in tools/bench/compare.sh.
bench: test-deps build
	tools/bench/compare.sh

## bench-micro: the decode micro-benchmarks (ns/packet, 0 mallocs/packet) against Benchmarks/Thresholds.
bench-micro: deps
	tools/bench/run.sh

## lab: regenerate captures/ (root). The pcapng writer is pinned to dumpcap (one Ethernet IDB per interface)
## until the pipeline reads `hoptrace capture`'s SLL2-in-pcapng by interface name: make lab LAB_PCAPNG_WRITER=hoptrace
LAB_PCAPNG_WRITER ?= dumpcap
lab: test-deps
	$(if $(filter hoptrace,$(LAB_PCAPNG_WRITER)),$(SWIFT) build -c release --product hoptrace)
	python3 tools/lab/lab.py all --pcapng-writer $(LAB_PCAPNG_WRITER)

clean:
	rm -rf .build
