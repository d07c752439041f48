# logingate build, test and install. `make test` is what CI runs (.ci/run).

GO          ?= go
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS      = -X github.com/logingate/logingate/internal/cli.Version=$(VERSION)
# FUZZTIME, when set (e.g. 60s), fuzzes each target for that long instead
# of its count below. Counts are the default: Go 1.26's fuzz coordinator can
# fail a time-limited run with a bare "context deadline exceeded" when the
# deadline meets a busy worker (golang/go#75804), a failure that is no
# finding; a count has no deadline to race.
FUZZTIME    ?=
PKGS        ?= ./...

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
CONFDIR ?= /etc/logingate

# Fuzz targets `make test` runs, one per line as package:FuzzName:runs,
# each line ending in a backslash, for example
#	./internal/config:FuzzLoad:10000
# The runs are sized to about ten seconds each on a two-core machine.
FUZZ_TARGETS = \
	./internal/config:FuzzLoad:10000 \
	./internal/config:FuzzLoginDuo:100000 \
	./internal/duo:FuzzResponses:100000 \
	./internal/store/filestore:FuzzDecode:200000 \
	./internal/factors:FuzzParseGoogleAuthenticator:30000 \
	./internal/groups:FuzzParse:300000 \
	./internal/groups:FuzzMatch:40000 \
	./internal/term:FuzzSanitize:120000 \
	./internal/session:FuzzParseAuthorizedKeyLine:150000 \
	./internal/gate:FuzzMenuAnswers:50000 \
	./internal/radius:FuzzVerify:300000 \
	./internal/doctor:FuzzParse:50000 \
	./internal/doctor:FuzzMatchPattern:120000 \
	./internal/doctor:FuzzSolve:30000 \

.PHONY: all build deb deps demo-deps test bench demo install clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/logingate ./cmd/logingate

# The Debian package: logingate_VERSION_ARCH.deb in DEB_OUT, built by
# scripts/mkdeb.sh with dpkg-deb alone (no debhelper, no packaging library:
# dpkg-dev is all it needs; the script says why). DEB_VERSION comes from git
# (scripts/debversion.sh: a tag vX.Y.Z gives X.Y.Z); the binary reports the
# same version.
ifeq ($(origin DEB_VERSION),undefined)
DEB_VERSION := $(shell scripts/debversion.sh 2>/dev/null)
endif
DEB_OUT     ?= .
# The packaged binary is static and stripped, as `build` makes it
# (packaging/deb/LINTIAN.md).
deb: VERSION = $(DEB_VERSION)
deb:
	@[ -n '$(DEB_VERSION)' ] || { echo 'make deb: no version (set DEB_VERSION)'; exit 1; }
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS) -s -w' -o bin/deb/logingate ./cmd/logingate
	scripts/mkdeb.sh bin/deb/logingate '$(DEB_VERSION)' '$(DEB_OUT)'

deps:
	scripts/deps.sh

# The demo needs only sshd, ssh, oathtool and the build (scripts/deps.sh).
demo-deps:
	scripts/deps.sh demo

# Each step stops the run on failure and names itself; the go test output
# stays as it is. PKGS narrows the run: make test PKGS=./internal/gate/...
# -timeout 30m: the package test (internal/debpkg) builds the packaged,
# externally linked binary itself, which on a fresh machine's empty build
# cache takes minutes; go test's default of 10 minutes a package is too
# close.
test: deps
	@echo '==> go vet $(PKGS)'
	@$(GO) vet $(PKGS) || { echo 'make test: FAIL (go vet)'; exit 1; }
	@echo '==> staticcheck $(PKGS)'
	@$(STATICCHECK) $(PKGS) || { echo 'make test: FAIL (staticcheck)'; exit 1; }
	@echo '==> go test -race -count=1 -timeout 30m $(PKGS)'
	@$(GO) test -race -count=1 -timeout 30m $(PKGS) || { echo 'make test: FAIL (go test)'; exit 1; }
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$${rest#*:}x; \
		[ -z "$(FUZZTIME)" ] || budget=$(FUZZTIME); \
		echo "==> fuzz $$name in $$pkg for $$budget"; \
		$(GO) test -list="^$$name\$$" "$$pkg" | grep -qx "$$name" || \
			{ echo "make test: FAIL (no fuzz target $$name in $$pkg)"; exit 1; }; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$$budget "$$pkg" || \
			{ echo "make test: FAIL (fuzz $$name)"; exit 1; }; \
	done
	@echo 'make test: PASS (go vet, staticcheck, go test -race, $(words $(FUZZ_TARGETS)) fuzz targets)'

bench:
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh; else echo 'make bench: scripts/bench.sh not written yet'; exit 1; fi

# A throwaway sshd on 127.0.0.1 with logingate as ForceCommand and a demo
# account; Ctrl-C stops it. DEMO_FLAGS=-check logs in once and stops.
DEMO_PORT ?= 2222
demo: demo-deps build
	$(GO) run ./scripts/demo -port $(DEMO_PORT) -bin bin/logingate $(DEMO_FLAGS)

# The privileged install: the binary setgid to the logingate group, the state
# directory only that group may enter (docs/SECURITY.md). An existing per-user
# state directory is migrated into that layout, once, losing nothing.
STATEDIR ?= /var/lib/logingate
SHAREDIR ?= $(PREFIX)/share/logingate
install: build
	getent group logingate >/dev/null || groupadd --system logingate
	install -D -o root -g logingate -m 2755 bin/logingate $(DESTDIR)$(BINDIR)/logingate
	install -D -o root -g root -m 0644 docs/logingate.1 $(DESTDIR)$(MANDIR)/man1/logingate.1
	install -d -o root -g root -m 0755 $(DESTDIR)$(SHAREDIR)
	sed 's|^ForceCommand /usr/bin/logingate|ForceCommand $(BINDIR)/logingate|' etc/sshd_config.d/00-logingate.conf >$(DESTDIR)$(SHAREDIR)/00-logingate.conf
	chmod 0644 $(DESTDIR)$(SHAREDIR)/00-logingate.conf
	install -d -o root -g root -m 0755 $(DESTDIR)$(CONFDIR)
	[ -e $(DESTDIR)$(CONFDIR)/logingate.yaml ] || install -o root -g root -m 0644 etc/logingate.yaml $(DESTDIR)$(CONFDIR)/logingate.yaml
	if [ -d $(DESTDIR)$(STATEDIR) ]; then $(DESTDIR)$(BINDIR)/logingate -c $(DESTDIR)$(CONFDIR)/logingate.yaml migrate; \
	else install -d -o root -g logingate -m 0770 $(DESTDIR)$(STATEDIR); fi
	@echo 'make install: done. Next: copy $(SHAREDIR)/00-logingate.conf to /etc/ssh/sshd_config.d/, remove user_readenv=1 from /etc/pam.d/sshd, run logingate doctor'

clean:
	rm -rf bin
