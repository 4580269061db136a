// Builds the addon: `node-gyp rebuild` in native/, against the headers of the
// node running this script when they are installed next to it (Debian's
// nodejs puts them in /usr/include/node), so no header download is needed.
// An explicit nodedir (npm_config_nodedir / --nodedir=...) wins.
//
// node-gyp is this package's own (a devDependency, in the checkout) or the
// one npm ships with (an install from a tarball: npm names it in
// npm_config_node_gyp, and it sits beside npm).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.resolve(__dirname, '..');

/** node-gyp's bin/node-gyp.js, or undefined. */
function findNodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [pkgDir] });
  } catch {
    // not installed with this package: npm's own
  }
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c !== undefined && c !== '' && fs.existsSync(c));
}

function main() {
  const args = ['rebuild', ...process.argv.slice(2)];
  if (!process.env.npm_config_nodedir && !args.some((a) => a.startsWith('--nodedir'))) {
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    const inc = path.join(prefix, 'include', 'node');
    if (fs.existsSync(path.join(inc, 'node_api.h')) && fs.existsSync(path.join(inc, 'common.gypi'))) {
      args.push(`--nodedir=${prefix}`);
    }
  }
  const gyp = findNodeGyp();
  if (gyp === undefined) {
    console.error('@famfs/native: node-gyp not found (neither installed with this package nor beside npm): install it (npm install -g node-gyp)');
    return 1;
  }
  console.log(`> node-gyp ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [gyp, ...args], { cwd: pkgDir, stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

module.exports = { findNodeGyp };
if (require.main === module) process.exit(main());
