# mailhost: make setup, make run, make test (see README.md).

GO      ?= go
BIN     ?= bin/mailhost
RUNARGS ?=

.PHONY: setup build run test check bench-startup clean

setup:
	./scripts/setup.sh

build:
	$(GO) build -o $(BIN) ./cmd/mailhost

# Builds mailhost and runs it on the embedded default (data in ./data).
run: build
	./$(BIN) serve $(RUNARGS)

# The whole test suite, under the race detector, against a real PostgreSQL:
# $$DATABASE_URL when set, otherwise a throwaway private cluster for the run.
test:
	$(GO) run ./cmd/pgtest $(GO) test -race -timeout 30m ./...

# Formatting and vet, as CI checks them.
check:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

bench-startup: build
	./bench/startup.sh

clean:
	rm -rf bin
