# famfs-ts: `make demo` sets up a fresh machine and runs the main job;
# `make test` sets up if needed and runs every test.
SHELL := /bin/bash
.PHONY: all setup build native ts demo test lint fuzz bench clean

all: build

setup:
	@bash scripts/setup.sh

native: setup
	pnpm run build:native

ts: setup
	pnpm run build:ts
	node scripts/bundle-cli.mjs

# tsc, then the CLI as one bundled file with a V8 code cache (start-up time;
# scripts/bundle-cli.mjs: bin/famfs runs the tsc output when it is missing)
build: setup
	pnpm run build
	node scripts/bundle-cli.mjs

demo: build
	@bash scripts/demo.sh

# type-check the tests too (tsconfig.lint.json), then typescript-eslint over everything
lint: build
	pnpm exec tsc -p tsconfig.lint.json
	pnpm exec eslint --max-warnings 0 .

test: build lint
	@rm -f .test-report.json
	pnpm exec vitest run --reporter=default --reporter=json --outputFile=.test-report.json; rc=$$?; \
	  [ -f .test-report.json ] && node scripts/test-summary.mjs .test-report.json; exit $$rc

# the fuzzers at bench size: 100,000 malformed requests through Session.handle,
# 100,000 mutations of each on-media struct, 100,000 DAX window sequences
fuzz: build
	FAMFS_FUZZ_REQUESTS=100000 FAMFS_FUZZ_MEDIA=100000 FAMFS_WINDOW_SEQUENCES=100000 pnpm exec vitest run packages/famfs-fuse/src/session.fuzz.test.ts packages/famfs-core/src/format/fuzz.test.ts packages/famfs-fuse/src/dax-window.model.test.ts

bench: build
	@bash bench/run.sh

clean:
	rm -rf native/build node_modules packages/*/node_modules packages/*/dist native/dist .demo *.tsbuildinfo build packages/famfs-cli/man packages/famfs-cli/completion

# `make install` (after build): the CLI into $(LIBDIR) with npm from the packed
# workspace packages, wrappers famfs and mkfs.famfs in $(BINDIR), the mount(8)
# helper mount.famfs in $(SBINDIR), man pages, bash completion. DESTDIR
# stages it elsewhere. `make uninstall` (same variables) removes it all.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= /sbin
LIBDIR ?= $(PREFIX)/lib/famfs-ts
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL_VARS = PREFIX='$(PREFIX)' BINDIR='$(BINDIR)' SBINDIR='$(SBINDIR)' LIBDIR='$(LIBDIR)' MANDIR='$(MANDIR)' BASHCOMPDIR='$(BASHCOMPDIR)' DESTDIR='$(DESTDIR)'

.PHONY: install uninstall pack
install: build
	@$(INSTALL_VARS) bash scripts/install.sh install

uninstall:
	@$(INSTALL_VARS) bash scripts/install.sh uninstall

# the four packages as tarballs in build/pkg (what `make install` installs)
pack: build
	@bash scripts/pack.sh build/pkg
