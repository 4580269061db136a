#!/usr/bin/env bash
# Install everything famfs-ts needs on a fresh Debian machine: the system
# tools (compiler and liburing headers for the native addon, losetup for the
# block-device tests, fio and libfuse's example for the read benchmarks, qemu
# and friends for the VM tests), pnpm, the workspace dependencies. Idempotent:
# a no-op when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v g++ >/dev/null || need_apt+=(g++)
command -v make >/dev/null || need_apt+=(make)
command -v python3 >/dev/null || need_apt+=(python3)
command -v losetup >/dev/null || need_apt+=(util-linux)
# The addon's FUSE request queues speak FUSE-over-io_uring through liburing
# (header and the shared library it links against).
[ -e /usr/include/liburing.h ] || need_apt+=(liburing-dev)
# bench/fuse.mjs drives the mounts with fio, and compiles libfuse's
# passthrough_ll example (shipped in libfuse3-dev) as the peer it measures against.
command -v fio >/dev/null || need_apt+=(fio)
[ -e /usr/share/doc/libfuse3-dev/examples/passthrough_ll.c ] || need_apt+=(libfuse3-dev)
command -v gcc >/dev/null || need_apt+=(gcc)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
# The generated man pages are rendered by man(1) in the tests (and `make install` installs them).
command -v man >/dev/null || need_apt+=(man-db)
# mount(8) and umount(8) run the mount.famfs helper in the fstab tests (Debian's mount package).
command -v mount >/dev/null || need_apt+=(mount)
# The VM tests (test/vm/): qemu boots a famfs-capable kernel under TCG with a
# busybox initramfs packed by cpio; the guest runs the host's ndctl. Without
# recommends: qemu's would pull in a GUI and UEFI firmware the tests never use
# (SeaBIOS, which -kernel boots through, is a hard dependency).
need_vm=()
command -v qemu-system-x86_64 >/dev/null || need_vm+=(qemu-system-x86)
# The initramfs holds busybox alone, so it must be the static build.
dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need_vm+=(busybox-static)
command -v ndctl >/dev/null || need_vm+=(ndctl)
command -v cpio >/dev/null || need_vm+=(cpio)
command -v gzip >/dev/null || need_vm+=(gzip)
if [ ${#need_apt[@]} -gt 0 ] || [ ${#need_vm[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need_apt[*]} ${need_vm[*]}: install them (apt-get install ${need_apt[*]} ${need_vm[*]}) or run as root" >&2
    exit 1
  fi
  echo "setup: apt-get install ${need_apt[*]} ${need_vm[*]}"
  apt-get update -qq
  if [ ${#need_apt[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  if [ ${#need_vm[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_vm[@]}" >/dev/null
  fi
fi

PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION"
  npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null 2>&1
fi

pnpm install --frozen-lockfile --reporter=silent
