// Builds the addon: `node-gyp rebuild` in native/, against the headers of the
// node running this script when they are installed next to it (Debian's
// nodejs puts them in /usr/include/node), so no header download is needed.
// An explicit nodedir (npm_config_nodedir / --nodedir=...) wins.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const pkgDir = path.resolve(__dirname, '..');
const args = ['rebuild', ...process.argv.slice(2)];
if (!process.env.npm_config_nodedir && !args.some((a) => a.startsWith('--nodedir'))) {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const inc = path.join(prefix, 'include', 'node');
  if (fs.existsSync(path.join(inc, 'node_api.h')) && fs.existsSync(path.join(inc, 'common.gypi'))) {
    args.push(`--nodedir=${prefix}`);
  }
}
const gyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [pkgDir] });
console.log(`> node-gyp ${args.join(' ')}`);
const r = spawnSync(process.execPath, [gyp, ...args], { cwd: pkgDir, stdio: 'inherit' });
if (r.error) throw r.error;
process.exit(r.status ?? 1);
