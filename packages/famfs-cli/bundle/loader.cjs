'use strict';
// Runs the CLI from its bundle: dist/bundle/cli.cjs, every module of the CLI
// in one CommonJS file (scripts/bundle-cli.mjs makes it), compiled through
// V8's code cache (dist/bundle/cli.cjs.cache, made at build time by `train`
// below). One file read instead of resolving, reading and compiling a
// hundred ES modules: most of a short command's start-up time. Without a
// current bundle (no bundling step ran, or tsc ran since) the tsc output
// runs instead, unchanged.
//
// `--version` is answered before any of that (the package version, from
// ../package.json).
const fs = require('node:fs');
const path = require('node:path');

const BUNDLE = path.join(__dirname, '..', 'dist', 'bundle', 'cli.cjs');
const CACHE = `${BUNDLE}.cache`;

/** The compiled bundle as a function of (exports, require, module, __filename, __dirname), and its vm.Script. */
function compile(cachedData) {
  const src = fs.readFileSync(BUNDLE, 'utf8');
  const vm = require('node:vm');
  const { wrap } = require('node:module');
  const script = new vm.Script(wrap(src), { filename: BUNDLE, cachedData });
  return { script, fn: script.runInThisContext() };
}

/** Evaluate the bundle; its exports ({ runFamfs, runMkfsFamfs, processIo, bufferIo, … }). */
function evaluate(fn) {
  const { createRequire } = require('node:module');
  const mod = { exports: {} };
  fn.call(mod.exports, mod.exports, createRequire(BUNDLE), mod, BUNDLE, path.dirname(BUNDLE));
  return mod.exports;
}

/**
 * Is there a bundle, made after the last TypeScript build? (tsc -b rewrites a
 * project's tsbuildinfo when it rebuilds it: a bundle older than one of them
 * is stale, and the tsc output runs instead — correct, only slower — until
 * `make build` bundles again.)
 */
function bundleIsCurrent() {
  let made;
  try {
    made = fs.statSync(BUNDLE).mtimeMs;
  } catch {
    return false;
  }
  const root = path.join(__dirname, '..', '..', '..');
  for (const p of ['native', 'packages/famfs-core', 'packages/famfs-fuse', 'packages/famfs-cli']) {
    try {
      if (fs.statSync(path.join(root, p, 'tsconfig.tsbuildinfo')).mtimeMs > made) return false;
    } catch {
      // no build info (an installed copy): the bundle is what there is
    }
  }
  return true;
}

/** `PROG --version` (or -V) alone, answered as src/version.ts does (same text), before anything else is loaded. */
function printVersionIfAsked(argv, prog) {
  if (argv.length !== 1 || (argv[0] !== '--version' && argv[0] !== '-V')) return false;
  const { version, famfs } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
  fs.writeSync(1, `${prog} ${version} (famfs-ts; on-media format ${famfs.onMediaFormat}, superblock version ${famfs.superblockVersion})\n`);
  return true;
}

exports.bundleIsCurrent = bundleIsCurrent;

/** `famfs …` or `mkfs.famfs …` (`which`), with process.argv. */
exports.main = function main(which) {
  const argv = process.argv.slice(2);
  if (printVersionIfAsked(argv, which === 'famfs' ? 'famfs' : 'mkfs.famfs')) return;
  if (!bundleIsCurrent()) {
    // not bundled (or bundled before the last tsc build): the unbundled entry (it reads process.argv itself)
    const entry = path.join(__dirname, '..', 'dist', 'bin', which === 'famfs' ? 'famfs.js' : 'mkfs-famfs.js');
    import(require('node:url').pathToFileURL(entry).href).catch((e) => {
      process.stderr.write(`${which}: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    });
    return;
  }
  let cachedData;
  try {
    cachedData = fs.readFileSync(CACHE);
  } catch {
    cachedData = undefined; // no cache (or unreadable): compile from source
  }
  const cli = evaluate(compile(cachedData).fn);
  const run = which === 'famfs' ? cli.runFamfs : cli.runMkfsFamfs;
  run(argv, cli.processIo()).then((code) => {
    process.exitCode = code;
  });
};

/**
 * Build time (scripts/bundle-cli.mjs): compile the bundle, run the commands
 * `exercise(cli)` runs (so that the functions they use are compiled too),
 * then write the code cache. Must run under the same node, with the same
 * flags, as the CLI will (V8 rejects a cache made otherwise: then the CLI
 * compiles from source, only slower).
 */
exports.train = async function train(exercise) {
  const { script, fn } = compile(undefined);
  await exercise(evaluate(fn));
  fs.writeFileSync(CACHE, script.createCachedData());
  return CACHE;
};
