# Mosaic federation gateway.
GO ?= go
export CGO_ENABLED ?= 0

.PHONY: build test test-race vet demo clean

build: ## build bin/mosaic
	$(GO) build -o bin/mosaic ./cmd/mosaic

test: vet ## run every test, with the race detector on the concurrent parts
	$(GO) test -count=1 ./...
	CGO_ENABLED=1 $(GO) test -count=1 -race ./sqlstore/... ./federation/... ./httpapi/... ./gateway/...

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo: ## two gateways federating end to end
	scripts/demo.sh

clean:
	rm -rf bin
