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
	pnpm exec vitest run

bench: build
	@bash bench/run.sh

clean:
	rm -rf native/build node_modules packages/*/node_modules packages/*/dist native/dist .demo *.tsbuildinfo
