# famfs-ts: `make demo` sets up a fresh machine and runs the main job;
# `make test` sets up if needed and runs every test.
SHELL := /bin/bash
.PHONY: all setup build native ts demo test bench clean

all: build

setup:
	@bash scripts/setup.sh

native: setup
	pnpm run build:native

ts: setup
	pnpm run build:ts

build: setup
	pnpm run build

demo: build
	@bash scripts/demo.sh

test: build
	@rm -f .test-report.json
	pnpm exec vitest run --reporter=default --reporter=json --outputFile=.test-report.json; rc=$$?; \
	  [ -f .test-report.json ] && node scripts/test-summary.mjs .test-report.json; exit $$rc

bench: build
	@bash bench/run.sh

clean:
	rm -rf native/build node_modules packages/*/node_modules packages/*/dist native/dist .demo *.tsbuildinfo
