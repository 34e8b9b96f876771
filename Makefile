# Mosaic federation gateway.
GO ?= go
export CGO_ENABLED ?= 0

.PHONY: build test vet fuzz demo step-ca clean

build: ## build bin/mosaic
	$(GO) build -o bin/mosaic ./cmd/mosaic

# PostgreSQL tests use MOSAIC_TEST_POSTGRES_URL (default the local server);
# they skip, saying so, when it is unreachable, and fail instead under CI.
MOSAIC_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
export MOSAIC_TEST_POSTGRES_URL

test: vet ## run every test, with the race detector on the concurrent parts
	@$(GO) run ./internal/pgcheck || echo "make test: PostgreSQL is not reachable at MOSAIC_TEST_POSTGRES_URL: its tests will be SKIPPED"
	bin=$$(scripts/build-step-ca.sh) && export MOSAIC_STEP_CA_BIN=$$bin && \
	$(GO) test -count=1 ./... && \
	CGO_ENABLED=1 $(GO) test -count=1 -race ./sqlstore/... ./federation/... ./httpapi/... ./gateway/...
	cd tools && $(GO) test -count=1 ./...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd tools && $(GO) vet ./...

fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	scripts/fuzz.sh

step-ca: ## build the pinned step-ca once (cached in ~/.cache/mosaic-tools)
	scripts/build-step-ca.sh

demo: ## two gateways federating end to end
	scripts/demo.sh

clean:
	rm -rf bin

.PHONY: bench
bench: ## measure enrollment, reads and growth, before and after; write BENCHMARKS.md (BENCH_QUICK=1, BENCH_PROFILE=1, BENCH_BASELINE=ref|none)
	scripts/bench.sh
