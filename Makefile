# Mosaic federation gateway.
GO ?= go
export CGO_ENABLED ?= 0

.PHONY: build test test-race vet demo clean

build: ## build bin/mosaic
	$(GO) build -o bin/mosaic ./cmd/mosaic

# PostgreSQL tests use MOSAIC_TEST_POSTGRES_URL (default the local server);
# they skip, saying so, when it is unreachable, and fail instead under CI.
MOSAIC_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
export MOSAIC_TEST_POSTGRES_URL

test: vet ## run every test, with the race detector on the concurrent parts
	@$(GO) run ./internal/pgcheck || echo "make test: PostgreSQL is not reachable at MOSAIC_TEST_POSTGRES_URL: its tests will be SKIPPED"
	$(GO) test -count=1 ./...
	CGO_ENABLED=1 $(GO) test -count=1 -race ./sqlstore/... ./federation/... ./httpapi/... ./gateway/...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo: ## two gateways federating end to end
	scripts/demo.sh

clean:
	rm -rf bin
