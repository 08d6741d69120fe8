# Thingpost: run `make help` for the targets.
SHELL := /bin/bash
# A Go toolchain fetched by scripts/bootstrap.sh wins over an older system Go.
export PATH := $(CURDIR)/.cache/go/bin:$(PATH)

# Fyne-free packages: they must build for routers and phones without cgo.
CORE_PKGS := ./keystore/... ./envelope/... ./wire/... ./transport/... ./securejoin/... ./thing/... ./homenode/... ./app/... ./demo/...
CROSS := linux/amd64 linux/arm64 linux/arm linux/mipsle android/arm64 ios/arm64

.PHONY: help deps run test test-short bench lint cross fuzz

help:
	@echo "make run    - start the demo (installs what it needs)"
	@echo "make test   - the whole test suite (installs what it needs; what CI runs)"
	@echo "make bench  - benchmarks with figures"
	@echo "make lint   - gofmt, go vet, staticcheck"
	@echo "make cross  - build the Fyne-free packages for every target platform"
	@echo "make fuzz   - run each fuzz target for FUZZTIME (default 10s)"

deps:
	@scripts/bootstrap.sh

test:
	scripts/test.sh

test-short:
	go test -short ./...

bench: deps
	. scripts/env.sh && go test -run '^$$' -bench . -benchmem -benchtime 2s ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	go tool staticcheck ./...

cross:
	@set -e; for p in $(CROSS); do \
	  pkgs=$$(go list -f '{{if .GoFiles}}{{.ImportPath}}{{end}}' $(CORE_PKGS) 2>/dev/null); \
	  echo "build $$p"; GOOS=$${p%/*} GOARCH=$${p#*/} CGO_ENABLED=0 go build $$pkgs; \
	done

FUZZTIME ?= 10s
fuzz:
	scripts/fuzz.sh $(FUZZTIME)
