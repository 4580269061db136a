// The `install` step of @famfs/native (npm or pnpm installing the package):
// build the addon with node-gyp, or take a prebuilt one.
//
//  - FAMFS_NATIVE_ADDON=/path/to/famfs_native.node: no compiler needed; that
//    file is copied to build/Release/ (at run time the same variable makes
//    the loader use it in place of the package's own).
//  - In the famfs-ts checkout (a pnpm workspace) nothing happens here:
//    `make build` builds the addon.
//  - Otherwise the tools are checked first, so that a machine without a C++
//    compiler gets one line saying what to install, not a page of gyp errors.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.resolve(__dirname, '..');
const ADDON = path.join(pkgDir, 'build', 'Release', 'famfs_native.node');
const HOWTO = 'Debian/Ubuntu: apt-get install g++ make python3 liburing-dev; or set FAMFS_NATIVE_ADDON to a built famfs_native.node';

function fail(msg) {
  console.error(`@famfs/native: ${msg} (${HOWTO})`);
  process.exit(1);
}

function onPath(cmd) {
  if (cmd.includes('/')) return isExecutable(cmd);
  return (process.env.PATH || '').split(':').some((d) => d !== '' && isExecutable(path.join(d, cmd)));
}

function isExecutable(f) {
  try {
    fs.accessSync(f, fs.constants.X_OK);
    return fs.statSync(f).isFile();
  } catch {
    return false;
  }
}

const prebuilt = process.env.FAMFS_NATIVE_ADDON;
if (prebuilt) {
  if (!fs.existsSync(prebuilt)) fail(`FAMFS_NATIVE_ADDON=${prebuilt}: no such file`);
  fs.mkdirSync(path.dirname(ADDON), { recursive: true });
  fs.copyFileSync(prebuilt, ADDON);
  console.log(`@famfs/native: using the prebuilt addon ${prebuilt} (FAMFS_NATIVE_ADDON)`);
  process.exit(0);
}

if (fs.existsSync(path.join(pkgDir, '..', 'pnpm-workspace.yaml'))) {
  // the famfs-ts checkout: the addon is built by `make build` (pnpm run build:native)
  process.exit(0);
}

// What node-gyp's make build uses: $CXX (else g++), make, python3.
const cxx = (process.env.CXX || 'g++').split(/\s+/)[0];
if (!onPath(cxx)) fail(`cannot build the native addon: no C++ compiler (${cxx}) on PATH`);
if (!onPath('make')) fail('cannot build the native addon: make is not on PATH');
if (!onPath('python3') && !onPath('python')) fail('cannot build the native addon: node-gyp needs python3, which is not on PATH');
const uring = ['/usr/include', '/usr/local/include'].some((d) => fs.existsSync(path.join(d, 'liburing.h')));
if (!uring) fail('cannot build the native addon: liburing headers (liburing.h) not found');

const r = spawnSync(process.execPath, [path.join(__dirname, 'build-native.cjs')], { cwd: pkgDir, stdio: 'inherit' });
if (r.error) fail(`cannot run node-gyp: ${r.error.message}`);
if (r.status !== 0) {
  console.error(`@famfs/native: node-gyp failed (exit ${r.status}): see its output above (${HOWTO})`);
  process.exit(r.status || 1);
}
