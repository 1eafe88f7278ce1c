# Interlock — make help lists the targets.
GO      ?= go
BIN     ?= bin
GOFLAGS ?=
export GOFLAGS

.DEFAULT_GOAL := help

.PHONY: help deps build test test-short bench demo generate generate-check lint clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## install what a fresh Debian machine lacks (as root; .ci/deps)
	bash .ci/deps

build: ## build interlockd and interlock into ./bin
	$(GO) build -o $(BIN)/ ./cmd/...

test: ## run every test (strict: needs root, BPF and PostgreSQL; fails with install hints otherwise)
	$(GO) test -count=1 -timeout 30m ./...

test-short: ## quick unprivileged run (skips tests that need root or PostgreSQL)
	$(GO) test -short -count=1 ./...

bench: deps build ## side-by-side benchmarks: pgbench direct / pgbouncer / interlockd (+redirect, guard, masking), Go micro-benchmarks
	$(GO) run ./testenv/cmd/bench

demo: deps build ## the whole mission on a throwaway PostgreSQL (as root): redirect, masking, approvals, guard
	$(GO) run ./testenv/cmd/demo

generate: ## rebuild the eBPF objects and their Go bindings (needs clang)
	$(GO) generate ./redirect/...

generate-check: generate ## fail if the committed generated files are not current
	git diff --exit-code -- redirect bpf

lint: ## gofmt, go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_bpfe[lb].go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean: ## remove build output
	rm -rf $(BIN)
