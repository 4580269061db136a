#!/usr/bin/env bash
# `make install` / `make uninstall` (run after `make build`).
#
# install: pack the workspace packages into $LIBDIR (scripts/pack.sh), install
# the tarballs there with npm (LIBDIR/node_modules; dependencies from the npm
# registry or npm's cache, @famfs/* only from the tarballs), put this
# checkout's built addon in place of compiling it again, then add
#   $BINDIR/famfs, $BINDIR/mkfs.famfs        wrappers running node on the CLI
#   $SBINDIR/mount.famfs                     the mount(8) helper
#   $MANDIR/man1/famfs*.1, man8/*.8          the generated man pages
#   $BASHCOMPDIR/famfs, mkfs.famfs           the generated bash completion
# Every path is below $DESTDIR. What was installed outside $LIBDIR, and the
# directories install made, are listed in $LIBDIR/installed-files; uninstall
# removes exactly those (directories only when empty) and $LIBDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:?usage: install.sh install|uninstall}

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BINDIR=${BINDIR:-$PREFIX/bin}
SBINDIR=${SBINDIR:-/sbin}
LIBDIR=${LIBDIR:-$PREFIX/lib/famfs-ts}
MANDIR=${MANDIR:-$PREFIX/share/man}
BASHCOMPDIR=${BASHCOMPDIR:-$PREFIX/share/bash-completion/completions}
NODE=${NODE:-$(command -v node)}
MANIFEST=$LIBDIR/installed-files

for v in PREFIX BINDIR SBINDIR LIBDIR MANDIR BASHCOMPDIR NODE; do
  case ${!v} in
    /*) ;;
    *) echo "install: $v must be an absolute path (got '${!v}')" >&2; exit 1 ;;
  esac
done

# mkdir -p that records each directory it creates (deepest last)
created_dirs=()
make_dir() {
  local d=$1 missing=()
  while [ ! -d "$DESTDIR$d" ]; do
    missing=("$d" "${missing[@]}")
    d=$(dirname "$d")
  done
  for d in "${missing[@]}"; do
    mkdir "$DESTDIR$d"
    created_dirs+=("$d")
  done
}

installed=()
put() { # put MODE SOURCE TARGET
  make_dir "$(dirname "$3")"
  install -m "$1" "$2" "$DESTDIR$3"
  installed+=("$3")
}

wrapper() { # wrapper TARGET SCRIPT-BELOW-CLI
  local tmp
  tmp=$(mktemp)
  printf '#!/bin/sh\n# %s: famfs-ts %s, installed by make install\nexec %s %s "$@"\n' \
    "$(basename "$1")" "$version" "$NODE" "$LIBDIR/node_modules/@famfs/cli/$2" >"$tmp"
  put 755 "$tmp" "$1"
  rm -f "$tmp"
}

do_install() {
  version=$(node -p "require('./packages/famfs-cli/package.json').version")
  local addon=native/build/Release/famfs_native.node
  [ -f "$addon" ] || { echo "install: $addon is missing: run \`make build\` first" >&2; exit 1; }
  if [ -e "$DESTDIR$LIBDIR" ]; then
    echo "install: $DESTDIR$LIBDIR exists: \`make uninstall\` first (same PREFIX/LIBDIR/DESTDIR)" >&2
    exit 1
  fi
  make_dir "$LIBDIR"
  # the tarballs and the package.json that installs them stay in LIBDIR (npm rebuild works there)
  bash scripts/pack.sh "$DESTDIR$LIBDIR" >/dev/null
  # --ignore-scripts: the addon is this checkout's build (copied below), not compiled again
  npm install --prefix "$DESTDIR$LIBDIR" --ignore-scripts --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null
  mkdir -p "$DESTDIR$LIBDIR/node_modules/@famfs/native/build/Release"
  install -m 755 "$addon" "$DESTDIR$LIBDIR/node_modules/@famfs/native/build/Release/famfs_native.node"

  wrapper "$BINDIR/famfs" bundle/famfs.cjs
  wrapper "$BINDIR/mkfs.famfs" bundle/mkfs-famfs.cjs
  wrapper "$SBINDIR/mount.famfs" dist/bin/mount-famfs.js
  local page
  for page in packages/famfs-cli/man/*.[18]; do
    put 644 "$page" "$MANDIR/man${page##*.}/$(basename "$page")"
  done
  put 644 packages/famfs-cli/completion/famfs "$BASHCOMPDIR/famfs"
  ln -sfn famfs "$DESTDIR$BASHCOMPDIR/mkfs.famfs"
  installed+=("$BASHCOMPDIR/mkfs.famfs")

  {
    echo "# famfs-ts $version: installed outside $LIBDIR by make install (file PATH, dir PATH)"
    printf 'file %s\n' "${installed[@]}"
    # directories made for them, deepest first
    local i
    for ((i = ${#created_dirs[@]} - 1; i >= 0; i--)); do
      [ "${created_dirs[i]}" = "$LIBDIR" ] || case ${created_dirs[i]} in "$LIBDIR"/*) ;; *) echo "dir ${created_dirs[i]}" ;; esac
    done
  } >"$DESTDIR$MANIFEST"
  echo "installed famfs-ts $version: $BINDIR/famfs, $BINDIR/mkfs.famfs, $SBINDIR/mount.famfs, man pages in $MANDIR, bash completion in $BASHCOMPDIR, the rest in $LIBDIR${DESTDIR:+ (below $DESTDIR)}"
}

do_uninstall() {
  if [ ! -f "$DESTDIR$MANIFEST" ]; then
    echo "uninstall: $DESTDIR$MANIFEST not found: famfs-ts is not installed with this PREFIX/LIBDIR/DESTDIR" >&2
    exit 1
  fi
  local kind path dirs=()
  while read -r kind path; do
    case $kind in
      file) rm -f "$DESTDIR$path" ;;
      dir) dirs+=("$path") ;;
    esac
  done <"$DESTDIR$MANIFEST"
  case $LIBDIR in /|"$PREFIX") echo "uninstall: refusing to remove LIBDIR=$LIBDIR" >&2; exit 1 ;; esac
  rm -rf "$DESTDIR$LIBDIR"
  # LIBDIR's parents that install made are in the list too
  for path in "${dirs[@]}"; do
    rmdir "$DESTDIR$path" 2>/dev/null || true
  done
  echo "uninstalled famfs-ts from $LIBDIR${DESTDIR:+ (below $DESTDIR)}"
}

case $action in
  install) do_install ;;
  uninstall) do_uninstall ;;
  *) echo "install.sh: unknown action '$action' (install or uninstall)" >&2; exit 1 ;;
esac
