# lab — see README.md. Every target works on a fresh Debian machine as root.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
# Static binaries: skipping the dynamic loader saves time on every container start.
export CGO_ENABLED := 0
# Tests and the demo use their own state directories, never the user's store.
DEMO_ROOT ?= /tmp/lab-demo

.PHONY: build deps deps-vm test test-cgroup2 demo lint bench fuzz compare clean

build: bin/lab bin/lab-full bin/lab-init

# Two builds of one main: bin/lab is lean (-tags lean: no Lua, REPL, lab test or lab
# build, so none of gopher-lua, readline, BuildKit's parser or protobuf is loaded and
# initialised when a container starts) and hands those over to bin/lab-full beside it.
# The commit lab version reports (build metadata is off where GOFLAGS=-buildvcs=false).
LDFLAGS = -X lab/lab.GitCommit=$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
GOSRC := $(shell find . -name '*.go' -not -path './bin/*') go.mod go.sum
bin/lab: $(GOSRC)
	$(GO) build -tags lean -ldflags "$(LDFLAGS)" -o bin/lab .

bin/lab-full: $(GOSRC)
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/lab-full .

# The container init lab starts (it looks for it next to itself): only the init side
# of runtime/proc, so it starts several times faster than lab re-executed would.
bin/lab-init: $(shell find runtime/proc -name '*.go') go.mod go.sum
	$(GO) build -o bin/lab-init ./runtime/proc/labinit

# What the tests and the demo need from Debian: a static busybox for the base image,
# tmux for the terminal tests, xmllint to validate lab test's JUnit reports,
# docker-registry for the pull/push tests (they start it on 127.0.0.1 with their own
# config; the package's service is not used).
DEBS := busybox-static tmux libxml2-utils docker-registry
# apt_install: install those of the packages in $(1) that are missing.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) $$missing >/dev/null; \
	fi
endef
deps:
	$(call apt_install,$(DEBS))

# The test guest of scripts/vm: qemu, Debian's kernel (and its modules, for overlayfs),
# cpio to pack the initramfs.
VM_DEBS := busybox-static qemu-system-x86 linux-image-amd64 cpio
deps-vm:
	$(call apt_install,$(VM_DEBS),--no-install-recommends)

# Go tests first, then the Lua scenarios on a throwaway store; the scenario runner's
# last line is "N passed, N failed".
test: deps build lint
	$(GO) test -count=1 -p 1 ./...
	root=$$(mktemp -d /tmp/lab-test-XXXXXX); trap 'rm -rf $$root' EXIT; \
	LAB_ROOT=$$root ./bin/lab test scripts/

# lab on a cgroup-v2-only kernel: a qemu guest (KVM if /dev/kvm works, else emulation,
# 1.5-4 min here) runs scripts/vm/cgroup2.sh and the Go tests of cgroups and limits.
# Its own CI step: too slow for `make test`, and it measures a CPU share.
VM_TIMEOUT ?= 1200
test-cgroup2: deps-vm build
	tests=$$(mktemp -d /tmp/lab-vmtests-XXXXXX); trap 'rm -rf $$tests' EXIT; \
	$(GO) test -c -o $$tests/cgroup.test ./runtime/cgroup && \
	$(GO) test -c -o $$tests/engine.test ./runtime/engine && \
	./scripts/vm/run.sh -t $(VM_TIMEOUT) -a "systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all" \
		-M overlay -f examples -f $$tests=tests scripts/vm/cgroup2.sh

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

# lab build vs docker build on the same Dockerfiles, images moved between lab and Docker
# by save/load and a loopback registry, and --format/--filter/exit codes of ps, images,
# inspect on the same containers (each skips with a note without Docker).
compare: build
	LAB=$(CURDIR)/bin/lab ./scripts/compare-docker-build.sh
	LAB=$(CURDIR)/bin/lab ./scripts/compare-docker-registry.sh
	LAB=$(CURDIR)/bin/lab ./scripts/compare-docker-format.sh

lint:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './bin/*')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
