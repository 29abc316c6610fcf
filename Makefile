# hoptrace: the two commands of the README, and the helpers around them.
SWIFT ?= swift
BIN ?= .build/release/hoptrace
# make install: PREFIX (default /usr/local) and DESTDIR as GNU makefiles take them; SETCAP=1 gives the installed
# binary the capabilities live capture needs (root only).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(DESTDIR)$(PREFIX)/bin
MANDIR := $(DESTDIR)$(PREFIX)/share/man/man1
SETCAP ?= 0
MAN := docs/hoptrace.1
# The demo traces two bundled lab captures: a SYN dropped after kube-proxy's DNAT, and a slow server.
DEMO ?= captures/clusterip-drop/hoptrace.pcapng captures/clusterip-slow-server/hoptrace.pcapng

.PHONY: all deps test-deps bench-deps build demo test lint format fuzz fuzz-smoke bench bench-micro lab clean man install uninstall

all: build

deps:
	@tools/setup.sh build

test-deps:
	@tools/setup.sh test

bench-deps:
	@tools/setup.sh bench

build: deps
	$(SWIFT) build -c release --product hoptrace

## man: regenerate docs/hoptrace.1 from the commands' own help with swift-argument-parser's generate-manual (built
## from the package's checkout: nothing is fetched; blank lines made mdoc paragraphs). Run it after changing a help
## text: a test fails while the committed page lacks a command or option the binary has.
man: build
	$(SWIFT) build -c release --product generate-manual
	mkdir -p .build/man
	"$$($(SWIFT) build -c release --show-bin-path)/generate-manual" $(BIN) --output-directory .build/man \
		--date "$$(git log -1 --format=%cs 2>/dev/null || date +%F)"
	sed 's/^$$/.Pp/' .build/man/hoptrace.1 > $(MAN)

## install: the binary in $(PREFIX)/bin and the man page in $(PREFIX)/share/man/man1 (under $(DESTDIR));
## SETCAP=1 also runs setcap so that capture and trace --live run without root.
install: $(if $(filter .build/release/hoptrace,$(BIN)),build)
	install -d $(BINDIR) $(MANDIR)
	install -m 0755 $(BIN) $(BINDIR)/hoptrace
	install -m 0644 $(MAN) $(MANDIR)/hoptrace.1
	@if [ "$(SETCAP)" = 1 ]; then \
		echo "setcap cap_net_raw,cap_net_admin=eip $(BINDIR)/hoptrace"; \
		setcap cap_net_raw,cap_net_admin=eip $(BINDIR)/hoptrace; \
	fi

uninstall:
	rm -f $(BINDIR)/hoptrace $(MANDIR)/hoptrace.1

## demo: install what is missing, build, and trace a bundled lab capture.
demo: build
	@for capture in $(DEMO); do \
		k8s=$$(dirname $$capture)/k8s.json; \
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

## bench: hoptrace against the tcpdump floor and its peers (tshark, tcptrace, ndpiReader, httpry) on a generated
## 2.8 M-packet Ethernet capture, then the same node's 2.8 M-packet SLL2 capture (median of 5, one core;
## tools/bench/compare.sh: ETHER_SCALE, SCALE, RUNS, TSHARK_SCALE...); trace --all and requests at ~1, 2 and 3 M
## packets (tools/bench/scaling.sh); the flow stage's peak RSS as the file grows and per concurrent flow
## (tools/bench/memory.sh). bench-deps installs the peers.
bench: bench-deps build
	tools/bench/compare.sh
	tools/bench/scaling.sh
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
