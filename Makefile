# hoptrace: the two commands of the README, and the helpers around them.
SWIFT ?= swift
BIN := .build/release/hoptrace
# The demo traces two bundled lab captures: a SYN dropped after kube-proxy's DNAT, and a slow server.
DEMO ?= captures/clusterip-drop/hoptrace.pcapng captures/clusterip-slow-server/hoptrace.pcapng

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
	@for capture in $(DEMO); do \
		k8s=$$(dirname $$capture)/k8s.json; \
		echo "\$$ hoptrace trace $$capture --k8s $$k8s"; \
		$(BIN) trace $$capture --k8s $$k8s || exit 1; echo; \
	done

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
## SCALE=2, FORMAT=pcapng, RUNS, TSHARK_SCALE=0.1 (tshark on a smaller file) as in tools/bench/compare.sh; then the
## flow stage's peak RSS as the file grows and per concurrent flow (tools/bench/memory.sh).
bench: test-deps build
	tools/bench/compare.sh
	tools/bench/memory.sh

## bench-micro: the decode micro-benchmarks (ns/packet, 0 mallocs/packet) against Benchmarks/Thresholds.
bench-micro: deps
	tools/bench/run.sh

## lab: regenerate captures/ (root, about 5 minutes): every scenario, one node and two nodes, recorded at once by four
## writers per node (tcpdump -i any as SLL2, hoptrace capture -i any, dumpcap -i IF..., one tcpdump -i IF per
## interface) into captures/<scenario>/ with truth.json and k8s.json; see tools/lab/README.md.
lab: test-deps
	$(SWIFT) build -c release --product hoptrace
	rm -rf captures.new && python3 tools/lab/lab.py all --out captures.new
	rm -rf captures && mv captures.new captures
	du -sh captures

clean:
	rm -rf .build
