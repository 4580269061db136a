#!/usr/bin/env bash
# Pack the four workspace packages into DEST (default build/pkg) with
# `pnpm pack` (workspace:* becomes the real version), after `make build`:
# the tarballs hold the built JavaScript, the addon's sources (it is built
# when the tarball is installed), the .proto, the man pages and the bash
# completion. Beside them goes a package.json that installs all four from
# those files: `npm install` in DEST (or in a copy of it) installs famfs-ts
# into DEST/node_modules. Its overrides make every @famfs/* dependency the
# local tarball, so npm never asks a registry for an @famfs package.
# Prints the tarballs' paths.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$(realpath -m "${1:-build/pkg}")
for f in packages/famfs-cli/dist/bin/famfs.js packages/famfs-cli/dist/bundle/cli.cjs packages/famfs-cli/man/famfs.1 packages/famfs-cli/completion/famfs; do
  [ -e "$f" ] || { echo "pack: $f is missing: run \`make build\` first" >&2; exit 1; }
done
mkdir -p "$dest"
rm -f "$dest"/famfs-cli-*.tgz "$dest"/famfs-core-*.tgz "$dest"/famfs-fuse-*.tgz "$dest"/famfs-native-*.tgz
for p in native packages/famfs-core packages/famfs-fuse packages/famfs-cli; do
  (cd "$p" && pnpm pack --pack-destination "$dest" >/dev/null)
done
node - "$dest" <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const dest = process.argv[2];
const version = require(path.resolve('packages/famfs-cli/package.json')).version;
const names = ['cli', 'core', 'fuse', 'native'];
const dependencies = Object.fromEntries(names.map((n) => [`@famfs/${n}`, `file:./famfs-${n}-${version}.tgz`]));
const overrides = Object.fromEntries(names.map((n) => [`@famfs/${n}`, `$@famfs/${n}`]));
const pkg = {
  name: 'famfs-ts-install',
  version,
  private: true,
  description: 'famfs-ts from its packed packages: `npm install` here installs them (all four from these files)',
  dependencies,
  overrides,
};
fs.writeFileSync(path.join(dest, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
JS
ls "$dest"/famfs-*.tgz
