# docker-credential-acr

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PKG     := github.com/docker-credential-acr/docker-credential-acr
LDFLAGS := -s -w -X $(PKG)/credhelper.Version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags "$(LDFLAGS)"
BIN     := bin/docker-credential-acr

export CGO_ENABLED ?= 0

.PHONY: all build test unit e2e demo bench hardening dist vet clean

all: build

build: $(BIN)

$(BIN): FORCE
	go build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/docker-credential-acr

FORCE:

## test: every test: unit tests of the helper, then the end-to-end suite
test: vet unit e2e

unit:
	go test -count=1 ./...

e2e: build
	@if [ -f e2e/go.mod ]; then cd e2e && go test -count=1 -timeout 20m ./...; fi

vet:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	go vet ./...
	@if [ -f e2e/go.mod ]; then cd e2e && go vet ./...; fi

## demo: the whole flow offline: emulator + registry, crane push and pull through the helper
demo: build
	cd e2e && go run ./cmd/demo -helper $(abspath $(BIN))

## bench: performance figures against their targets (non-zero exit on a miss)
bench: build
	go test -run '^$$' -bench . -benchtime 2000x ./credhelper/ ./cache/ ./token/
	cd e2e && go run ./cmd/bench -helper $(abspath $(BIN))

## hardening: the long hostile-input runs: 10,000 hostile URLs through the binary, fuzzing
## (registry names; cache entries against encoding/json)
FUZZTIME ?= 60s
hardening: build
	@log=$$(mktemp); cd e2e && ACR_HELPER_BINARY=$(abspath $(BIN)) go test -v -count=1 -timeout 20m ./hardening/ -args -hardening.long >$$log 2>&1; \
	rc=$$?; grep -E 'FIGURE|^(--- FAIL|FAIL|ok|panic)' $$log; [ $$rc = 0 ] || tail -50 $$log; rm -f $$log; exit $$rc
	go test -run '^$$' -fuzz FuzzRecognise -fuzztime $(FUZZTIME) ./credhelper/
	go test -run '^$$' -fuzz FuzzDecodeEntry -fuzztime $(FUZZTIME) ./cache/

## dist: release binaries for linux/darwin/windows x amd64/arm64, with SHA256SUMS
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
dist:
	rm -rf dist && mkdir -p dist
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		out=dist/docker-credential-acr-$(VERSION)-$$os-$$arch$$ext; \
		echo "go build $$out"; \
		GOOS=$$os GOARCH=$$arch go build $(GOFLAGS_BUILD) -o $$out ./cmd/docker-credential-acr; \
	done
	cd dist && sha256sum docker-credential-acr-* > SHA256SUMS && cat SHA256SUMS

clean:
	rm -rf bin dist
