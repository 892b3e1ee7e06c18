# mailhost: make setup, make run, make test (see README.md).

GO      ?= go
BIN     ?= bin/mailhost
RUNARGS ?=

.PHONY: setup build run test check install bench-startup clean

setup:
	./scripts/setup.sh

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/mailhost

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

# Installs the binary, the systemd unit, the vmail account's sysusers.d
# entry and an example configuration (kept when one exists) under
# $(DESTDIR)$(PREFIX) and $(DESTDIR)$(SYSCONFDIR). Then, as root:
#   systemd-sysusers && systemctl daemon-reload && systemctl enable --now mailhost
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/mailhost
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/mailhost
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' packaging/mailhost.service.in \
		>$(DESTDIR)$(UNITDIR)/mailhost.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/mailhost.service
	install -m 0644 packaging/mailhost.sysusers $(DESTDIR)$(SYSUSERSDIR)/mailhost.conf
	install -m 0644 packaging/mailhost.toml.example $(DESTDIR)$(SYSCONFDIR)/mailhost/mailhost.toml.example
	[ -e $(DESTDIR)$(SYSCONFDIR)/mailhost/mailhost.toml ] || \
		install -m 0640 packaging/mailhost.toml.example $(DESTDIR)$(SYSCONFDIR)/mailhost/mailhost.toml

bench-startup: build
	./bench/startup.sh

clean:
	rm -rf bin
