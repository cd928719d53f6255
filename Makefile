# lab — see README.md. Every target works on a fresh Debian machine as root.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
# A static binary: the container init is this binary re-executed, and skipping the
# dynamic loader saves time on every container start.
export CGO_ENABLED := 0
# Tests and the demo use their own state directories, never the user's store.
DEMO_ROOT ?= /tmp/lab-demo

.PHONY: build deps test demo lint bench fuzz compare clean

build: bin/lab

bin/lab: $(shell find . -name '*.go' -not -path './bin/*') go.mod go.sum
	$(GO) build -ldflags "-X lab/lab.GitCommit=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" -o bin/lab .

# What the tests and the demo need from Debian: a static busybox for the base image,
# tmux for the terminal tests, xmllint to validate lab test's JUnit reports.
DEBS := busybox-static tmux libxml2-utils
deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# Go tests first, then the Lua scenarios on a throwaway store; the scenario runner's
# last line is "N passed, N failed".
test: deps build lint
	$(GO) test -count=1 -p 1 ./...
	root=$$(mktemp -d /tmp/lab-test-XXXXXX); trap 'rm -rf $$root' EXIT; \
	LAB_ROOT=$$root ./bin/lab test scripts/

demo: deps build
	rm -rf $(DEMO_ROOT)
	LAB_ROOT=$(DEMO_ROOT) ./bin/lab bootstrap busybox
	LAB_ROOT=$(DEMO_ROOT) LAB=./bin/lab ./examples/tutorial.sh
	LAB_ROOT=$(DEMO_ROOT) ./bin/lab examples/tutorial.lua
	rm -rf $(DEMO_ROOT)

# Medians and ratios (never pass/fail): lab run vs the unshare floor, Docker, podman;
# 1000 runs in one Lua script; the tutorial; commit and import. Writes bench/results.md.
# RUNS, ROUNDS, N, BENCH_DOCKER=0 and BENCH_GO=0 can be set in the environment.
bench: deps build
	./bench/run.sh

# Longer fuzzing of layer apply and reference parsing (go test runs their seed corpora).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzApply$$' -fuzztime $(FUZZTIME) ./runtime/archive
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./runtime/reference

# lab build vs docker build on the same Dockerfiles, and --format/--filter/exit codes of
# ps, images, inspect on the same containers (both skip with a note without Docker).
compare: build
	LAB=$(CURDIR)/bin/lab ./scripts/compare-docker-build.sh
	LAB=$(CURDIR)/bin/lab ./scripts/compare-docker-format.sh

lint:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './bin/*')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
