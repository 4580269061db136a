/**
 * The VM test harness: boot a famfs-capable Linux kernel under qemu (TCG, no
 * KVM needed) and run a shell script inside the guest, with this machine's
 * own files (node, ndctl, python3, this repository's ./bin/famfs) available
 * there, and a dax device made from emulated persistent memory.
 *
 * How a guest is put together:
 * - The kernel image comes from $FAMFS_VM_KERNEL (the only setting; the
 *   repository ships no kernel). `vmRequirements()` says what else is needed.
 * - The initramfs is built at run time, once per `VmHarness`: the static
 *   busybox as the only program, plus the init script below, packed as a
 *   newc cpio and gzipped. Nothing binary is committed.
 * - The host's root is shared read-only over virtio-9p (`multidevs=remap`,
 *   without which the host's /proc, /sys … would collide on inode numbers)
 *   and mounted at /host; a per-guest scratch directory is shared read-write.
 *   Init bind-mounts /dev, /proc and /sys into /host, puts tmpfs on /tmp,
 *   /run and /mnt (the host root is read-only), mounts the scratch share at
 *   /run/vm, and runs the script with `chroot /host`: the script sees the
 *   host's file tree at the host's paths.
 * - The script's stdout, stderr and exit status go to files in the scratch
 *   share, so they never mix with the kernel's console output (which goes to
 *   its own file). Then init reboots, and qemu (`-no-reboot`) exits.
 * - Persistent memory: `memmap=SIZE!OFFSET` turns guest RAM into a legacy
 *   pmem region (namespaceN.0); `devdaxNamespace()` turns one into
 *   /dev/daxN.0. With `sharedMemory`, that RAM is a host file mapped shared:
 *   two guests given the same file see the same bytes.
 *
 * Cleanup contract: every qemu a harness starts dies at the latest in
 * `close()` (and, through a parent-death signal, when the test process
 * itself dies); `close()` also removes the harness's temporary directory and
 * every shared-memory file it made. Every guest has a timeout that kills it.
 *
 * No vitest in here: a test calls `afterAll(() => vm.close())`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll } from 'vitest';
import type { Requirement } from '../helpers.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The setting that names the kernel image (a bzImage with the famfs FUSE extension). */
export const VM_KERNEL_ENV = 'FAMFS_VM_KERNEL';
export const QEMU = 'qemu-system-x86_64';
/** Debian's busybox-static installs here; the initramfs holds nothing else, so it must be static. */
export const BUSYBOX = '/bin/busybox';

/** This repository's root, the default working directory of a guest script. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where the scratch share is mounted in the guest (also in $SCRATCH there). */
export const GUEST_SCRATCH = '/run/vm';

/**
 * Legacy pmem regions must start and end on a memory-section boundary
 * (128 MiB on x86-64): the kernel maps them as ZONE_DEVICE by sections.
 */
const REGION_ALIGN = 128 * MiB;
/**
 * The pc machine's RAM: [0, 3 GiB) then, past the PCI hole, from 4 GiB on
 * (qemu puts whatever is above 3 GiB of `-m` there). A region lies in one of
 * the two: below 3 GiB, or at 4 GiB and above — never across the hole,
 * where `memmap=` would not be RAM.
 */
const LOW_RAM_LIMIT = 3 * GiB;
const HIGH_RAM_START = 4 * GiB;
/** Guest RAM after the last pmem region: the firmware keeps its tables at the top of RAM. */
const RAM_TAIL = 256 * MiB;
/** Guest RAM when there is no pmem region at all. */
const RAM_PLAIN = 1 * GiB;

// ---------------------------------------------------------------- requirements

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => {
    try {
      fs.accessSync(path.join(d || '.', cmd), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Is `file` an ELF executable without a program interpreter (statically
 * linked)? A dynamically linked busybox would find no libc in the initramfs.
 */
export function isStaticElf(file: string): boolean {
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch {
    return false;
  }
  // ELF64 little-endian only (x86-64): e_phoff at 32, e_phentsize at 54, e_phnum at 56
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return false;
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  const PT_INTERP = 3;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (phentsize < 4 || at + phentsize > b.length) return false; // a cut-off table is not an executable
    if (b.readUInt32LE(at) === PT_INTERP) return false;
  }
  return true;
}

/** The kernel image named by $FAMFS_VM_KERNEL, if that is a readable file. */
export function vmKernel(): string | undefined {
  const k = process.env[VM_KERNEL_ENV];
  if (k === undefined || k === '') return undefined;
  try {
    fs.accessSync(k, fs.constants.R_OK);
    return fs.statSync(k).isFile() ? k : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What booting a guest needs, for the test gate (`needs()` in helpers.ts):
 * qemu, a kernel image from $FAMFS_VM_KERNEL, the static busybox, cpio.
 * scripts/setup.sh installs the packages; the kernel is a setting.
 */
export function vmRequirements(): Requirement[] {
  return [
    { what: `${QEMU} on PATH (Debian qemu-system-x86)`, met: () => onPath(QEMU) },
    {
      what: `a readable kernel image in $${VM_KERNEL_ENV} (${process.env[VM_KERNEL_ENV] ? `${process.env[VM_KERNEL_ENV]} is not one` : 'unset'})`,
      met: () => vmKernel() !== undefined,
    },
    { what: `a static busybox at ${BUSYBOX} (Debian busybox-static)`, met: () => isStaticElf(BUSYBOX) },
    { what: 'cpio on PATH', met: () => onPath('cpio') },
    // the guest puts its own tmpfs on /tmp, /run and /mnt: a checkout there is out of its sight
    { what: `a repository outside /tmp, /run and /mnt (${fs.realpathSync(REPO_ROOT)} is hidden by the guest's own tmpfs there)`, met: () => !/^\/(tmp|run|mnt)(\/|$)/.test(fs.realpathSync(REPO_ROOT)) },
  ];
}

// ---------------------------------------------------------------- guest options and results

/** A legacy pmem region carved out of guest RAM with `memmap=SIZE!OFFSET` (bytes). */
export interface PmemRegion {
  /** guest-physical start; a multiple of 128 MiB, at least 512 MiB (the guest needs RAM below) */
  offset: number;
  /** a multiple of 128 MiB */
  size: number;
}

export interface GuestOptions {
  /** the shell script run in the guest (by /bin/sh, in the host's root, as root) */
  script: string;
  /**
   * Environment of the script, over the defaults: PATH (the host's own, so
   * the same node and python3 are found), HOME=/tmp, SCRATCH (the scratch
   * share's path in the guest). Nothing else is inherited.
   */
  env?: Record<string, string>;
  /** the script's working directory (a host path); default: this repository */
  cwd?: string;
  /**
   * pmem regions; default one of 512 MiB at 1 GiB (/dev/dax0.0 after
   * `devdaxNamespace()`). Two regions must not touch: the kernel would merge
   * adjacent ones into a single region.
   */
  pmem?: PmemRegion[];
  /**
   * Host files (made by `VmHarness.sharedMemoryFile`) that back the pmem
   * regions instead of guest-private RAM: one file, or one per region in
   * offset order. The guest's RAM becomes NUMA nodes: RAM below the first
   * region, the first file (mapped shared), RAM between, the next file, …,
   * RAM above the last.
   */
  sharedMemory?: string | string[];
  /** more kernel command-line arguments */
  kernelArgs?: string[];
  /** kill the guest after this long (default 120 s); `runGuest` then rejects */
  timeoutMs?: number;
  /** a label for messages and the guest's directory name */
  name?: string;
}

export interface GuestResult {
  /** the script's exit status */
  exitCode: number;
  /** what the script wrote to stdout and stderr (no kernel messages) */
  stdout: string;
  stderr: string;
  /** the serial console: kernel messages and init's own lines */
  console: string;
  /** wall time from starting qemu until it exited */
  durationMs: number;
  /** guest uptime when the script started: kernel boot + init, a fair "boot time" */
  bootMs: number;
  /** how long the script ran, by the guest's clock */
  scriptMs: number;
}

/** A running guest: its scratch directory (on the host) and its outcome. */
export interface Guest {
  readonly name: string;
  /** the host directory the guest sees at GUEST_SCRATCH (read-write) */
  readonly scratchDir: string;
  readonly pid: number;
  /** settles when qemu has exited: the result, or why there is none (timeout, crash) */
  readonly done: Promise<GuestResult>;
  /** kill qemu now (SIGKILL); `done` then rejects unless the script had finished */
  kill(): void;
}

/** A guest that produced no result: timed out, or died before its script ended. */
export class GuestError extends Error {
  constructor(
    message: string,
    readonly console: string,
  ) {
    super(message);
    this.name = 'GuestError';
  }
}

// ---------------------------------------------------------------- the guest's init

/**
 * /init of the initramfs (busybox sh). Every failure before the script is
 * reported on the console and ends the guest, so the host sees "no status"
 * with the reason next to it in the console.
 */
const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /host
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
die() { echo "vm-init: $*"; reboot -f; sleep 60; }
# cache=loose: the host root does not change under a test, and page-caching
# it makes node start in ~2 s instead of ~9 s (msize: fewer 9p round trips)
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /host || die "cannot mount the host root"
for d in dev proc sys; do mount --bind /$d /host/$d || die "cannot bind /$d"; done
for d in tmp run mnt; do mount -t tmpfs -o mode=1777 tmpfs /host/$d || die "cannot mount tmpfs on /$d"; done
mkdir -p /host${GUEST_SCRATCH}
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 scratch /host${GUEST_SCRATCH} || die "cannot mount the scratch share"
S=/host${GUEST_SCRATCH}
cut -d' ' -f1 /proc/uptime > $S/start-uptime
echo "vm-init: script starts"
env -i chroot /host /bin/sh -c '. ${GUEST_SCRATCH}/env && cd "$VM_CWD" && exec /bin/sh ${GUEST_SCRATCH}/script.sh' \\
  </dev/null >$S/stdout 2>$S/stderr
rc=$?
cut -d' ' -f1 /proc/uptime > $S/end-uptime
echo $rc > $S/status.tmp && mv $S/status.tmp $S/status
echo "vm-init: script exited $rc"
sync
reboot -f
`;

/** `s` single-quoted for sh. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `s` escaped for a qemu option value (a comma is written twice). */
function qemuOpt(s: string): string {
  return s.replace(/,/g, ',,');
}

/**
 * Throw unless `regions` can be carved out of guest RAM as separate legacy
 * pmem regions (aligned, below 3 GiB, RAM below them, not touching).
 */
export function checkRegions(regions: PmemRegion[]): void {
  const sorted = [...regions].sort((a, b) => a.offset - b.offset);
  sorted.forEach((r, i) => {
    if (r.offset % REGION_ALIGN !== 0 || r.size % REGION_ALIGN !== 0 || r.size <= 0) {
      throw new Error(`pmem region ${r.size}@${r.offset}: offset and size must be positive multiples of 128 MiB`);
    }
    if (r.offset < 512 * MiB) throw new Error(`pmem region at ${r.offset}: the guest needs at least 512 MiB of RAM below the first region`);
    if (r.offset < HIGH_RAM_START && r.offset + r.size > LOW_RAM_LIMIT) {
      throw new Error(`pmem region ${r.size}@${r.offset} crosses the PCI hole: keep it below 3 GiB or start it at 4 GiB or above`);
    }
    const prev = sorted[i - 1];
    if (prev !== undefined && prev.offset + prev.size >= r.offset) {
      throw new Error(`pmem regions ${prev.size}@${prev.offset} and ${r.size}@${r.offset} touch or overlap: the kernel would merge them into one`);
    }
  });
}

/**
 * The qemu command line (after the program name) for a guest: TCG, one CPU,
 * no default devices, the serial console into `consoleFile`, the host root
 * (read-only) and `scratchDir` (read-write) over virtio-9p, RAM and pmem
 * regions as `opts` says.
 */
export function qemuArgs(
  files: { kernel: string; initramfs: string; scratchDir: string; consoleFile: string },
  opts: Omit<GuestOptions, 'script'>,
): string[] {
  const { scratchDir, consoleFile } = files;
  const regions = opts.pmem ?? [{ offset: 1 * GiB, size: 512 * MiB }];
  checkRegions(regions);
  const args = ['-accel', 'tcg', '-cpu', 'max', '-smp', '1'];
  const end = Math.max(0, ...regions.map((r) => r.offset + r.size));
  if (opts.sharedMemory !== undefined) {
    const files = typeof opts.sharedMemory === 'string' ? [opts.sharedMemory] : opts.sharedMemory;
    if (files.length !== regions.length) throw new Error(`${files.length} shared memory files for ${regions.length} pmem regions: one file backs each region`);
    const sorted = [...regions].sort((a, b) => a.offset - b.offset);
    if (end > LOW_RAM_LIMIT) throw new Error('shared memory regions must lie below 3 GiB');
    // RAM below each region, the shared file exactly where memmap= puts it, RAM above the last
    args.push('-m', `${(end + RAM_TAIL) / MiB}M`);
    const nodes: string[] = [];
    let at = 0;
    sorted.forEach((r, i) => {
      const file = files[i]!;
      const fileSize = fs.statSync(file).size;
      if (fileSize !== r.size) throw new Error(`shared memory file is ${fileSize} bytes, the pmem region ${r.size}`);
      nodes.push(`memory-backend-ram,id=m${nodes.length},size=${(r.offset - at) / MiB}M`);
      nodes.push(`memory-backend-file,id=m${nodes.length},size=${r.size / MiB}M,mem-path=${qemuOpt(file)},share=on`);
      at = r.offset + r.size;
    });
    nodes.push(`memory-backend-ram,id=m${nodes.length},size=${RAM_TAIL / MiB}M`);
    for (const n of nodes) args.push('-object', n);
    nodes.forEach((_, i) => args.push('-numa', `node,nodeid=${i},memdev=m${i}`));
  } else {
    // guest RAM up to the last region's end (above the hole, RAM continues at
    // 4 GiB with what -m has beyond 3 GiB), then the tail the firmware uses
    const ram = regions.length === 0 ? RAM_PLAIN : end > LOW_RAM_LIMIT ? LOW_RAM_LIMIT + (end - HIGH_RAM_START) + RAM_TAIL : end + RAM_TAIL;
    args.push('-m', `${ram / MiB}M`);
  }
  const append = [
    'console=ttyS0',
    'panic=-1', // a panic reboots, i.e. qemu exits at once instead of hanging to the timeout
    ...regions.map((r) => `memmap=${r.size / MiB}M!${r.offset / MiB}M`),
    ...(opts.kernelArgs ?? []),
  ].join(' ');
  args.push(
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-serial', `file:${consoleFile}`,
    '-kernel', files.kernel,
    '-initrd', files.initramfs,
    '-append', append,
    '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-fsdev', `local,id=scratch,path=${qemuOpt(scratchDir)},security_model=none`,
    '-device', 'virtio-9p-pci,fsdev=scratch,mount_tag=scratch',
  );
  return args;
}

// ---------------------------------------------------------------- the harness

/**
 * One harness per test file: it owns a temporary directory (the initramfs,
 * each guest's scratch and console), the shared-memory files it made, and
 * every qemu it started. `close()` ends and removes all of them.
 */
export class VmHarness {
  readonly kernel: string;
  private readonly dir: string;
  private initramfsPath: string | undefined;
  private readonly running = new Set<ChildProcess>();
  private readonly sharedFiles: string[] = [];
  private guests = 0;
  private closed = false;

  /** `kernel` defaults to $FAMFS_VM_KERNEL; check `vmRequirements()` first. */
  constructor(kernel: string | undefined = vmKernel()) {
    if (kernel === undefined) throw new Error(`no kernel image: set ${VM_KERNEL_ENV} to a bzImage with the famfs FUSE extension`);
    this.kernel = kernel;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'famfs-vm-'));
  }

  /**
   * The initramfs, built on first use (busybox + init, newc cpio, gzip) and
   * reused by every later guest of this harness.
   */
  initramfs(): string {
    if (this.initramfsPath !== undefined) return this.initramfsPath;
    const root = path.join(this.dir, 'initramfs');
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    fs.copyFileSync(BUSYBOX, path.join(root, 'bin/busybox'));
    fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
    fs.writeFileSync(path.join(root, 'init'), INIT_SCRIPT, { mode: 0o755 });
    // the kernel's built-in initramfs already has /dev/console, so init has a console
    const r = spawnSync('cpio', ['-o', '-H', 'newc', '--quiet', '-R', '0:0'], {
      cwd: root,
      input: ['bin', 'bin/busybox', 'init'].join('\n') + '\n',
      maxBuffer: 64 * MiB,
    });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`cpio failed: ${r.stderr.toString()}`);
    const out = path.join(this.dir, 'initramfs.cpio.gz');
    fs.writeFileSync(out, gzipSync(r.stdout, { level: 1 }));
    this.initramfsPath = out;
    return out;
  }

  /**
   * A zero-filled file of `size` bytes to back a pmem region shared by
   * guests (`GuestOptions.sharedMemory`). In /dev/shm when there is one
   * (memory, not disk), else in the harness's directory; removed by close().
   */
  sharedMemoryFile(size: number): string {
    const base = fs.existsSync('/dev/shm') ? '/dev/shm' : this.dir;
    const file = path.join(base, `famfs-vm-${process.pid}-${path.basename(this.dir)}-${this.sharedFiles.length}`);
    this.sharedFiles.push(file);
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      fs.ftruncateSync(fd, size);
    } finally {
      fs.closeSync(fd);
    }
    return file;
  }

  /**
   * Boot a guest and start its script; do not wait for it. Two guests may
   * run at once (each has its own scratch directory; give both the same
   * `sharedMemory` to share a pmem region).
   */
  startGuest(opts: GuestOptions): Guest {
    if (this.closed) throw new Error('the VM harness is closed');
    const name = `${this.guests++}-${(opts.name ?? 'guest').replace(/[^A-Za-z0-9_.-]/g, '_')}`;
    const gdir = path.join(this.dir, name);
    const scratchDir = path.join(gdir, 'scratch');
    const consoleFile = path.join(gdir, 'console.log');
    fs.mkdirSync(scratchDir, { recursive: true });
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin',
      HOME: '/tmp',
      SCRATCH: GUEST_SCRATCH,
      ...opts.env,
      VM_CWD: opts.cwd ?? REPO_ROOT,
    };
    const envLines = Object.entries(env).map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`bad environment variable name ${JSON.stringify(k)}`);
      return `export ${k}=${shq(v)}\n`;
    });
    fs.writeFileSync(path.join(scratchDir, 'env'), envLines.join(''));
    fs.writeFileSync(path.join(scratchDir, 'script.sh'), opts.script);
    const args = qemuArgs({ kernel: this.kernel, initramfs: this.initramfs(), scratchDir, consoleFile }, opts);

    // setpriv --pdeathsig: qemu dies with the test process even if that is
    // killed outright (a vitest worker on timeout) and close() never runs
    const usePdeath = onPath('setpriv');
    const child = usePdeath
      ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', QEMU, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.running.add(child);
    const started = Date.now();
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      if (stderr.length < 64 * 1024) stderr += d;
    });
    const timeoutMs = opts.timeoutMs ?? 120_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    const readText = (f: string): string => {
      try {
        return fs.readFileSync(f, 'utf8');
      } catch {
        return '';
      }
    };
    const done = new Promise<GuestResult>((resolve, reject) => {
      const finish = (what: string | undefined): void => {
        clearTimeout(timer);
        this.running.delete(child);
        const durationMs = Date.now() - started;
        const consoleText = readText(consoleFile);
        const status = readText(path.join(scratchDir, 'status'));
        const tail = (t: string): string => t.split('\n').slice(-25).join('\n');
        if (timedOut) {
          reject(new GuestError(`guest ${name} timed out after ${timeoutMs} ms (killed); console tail:\n${tail(consoleText)}`, consoleText));
        } else if (what !== undefined) {
          reject(new GuestError(`guest ${name}: ${what}`, consoleText));
        } else if (!/^\d+\n$/.test(status)) {
          reject(new GuestError(`guest ${name} ended without its script's exit status${stderr ? `; qemu said: ${stderr.trim()}` : ''}; console tail:\n${tail(consoleText)}`, consoleText));
        } else {
          const start = Number(readText(path.join(scratchDir, 'start-uptime')));
          const end = Number(readText(path.join(scratchDir, 'end-uptime')));
          resolve({
            exitCode: Number(status),
            stdout: readText(path.join(scratchDir, 'stdout')),
            stderr: readText(path.join(scratchDir, 'stderr')),
            console: consoleText,
            durationMs,
            bootMs: Math.round(start * 1000),
            scriptMs: Math.round((end - start) * 1000),
          });
        }
      };
      child.on('error', (e) => finish(`cannot start ${usePdeath ? 'setpriv/' : ''}${QEMU}: ${e.message}`));
      child.on('exit', () => finish(undefined));
    });
    // a caller that only awaits later must not trip an unhandled rejection meanwhile
    done.catch(() => {});
    return {
      name,
      scratchDir,
      pid: child.pid ?? -1,
      done,
      kill: () => {
        child.kill('SIGKILL');
      },
    };
  }

  /** Boot a guest, run its script, and wait for the result (see `startGuest`). */
  runGuest(opts: GuestOptions): Promise<GuestResult> {
    return this.startGuest(opts).done;
  }

  /**
   * Kill every guest still running (and wait until each has exited), then
   * remove the temporary directory and the shared-memory files. Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    const waits = [...this.running].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    );
    await Promise.all(waits);
    for (const f of this.sharedFiles) fs.rmSync(f, { force: true });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- guest shell snippets

/**
 * Shell lines that make `namespace` a devdax namespace, 2 MiB aligned:
 * /dev/daxN.0 appears, bound to device_dax. `mapMem` keeps the kernel's
 * page structures in guest RAM instead of in the device (`--map=mem`): a
 * must when two guests share the region, or each would overwrite the
 * other's. ndctl's JSON report goes to stderr.
 */
export function devdaxNamespace(opts: { namespace?: string; mapMem?: boolean } = {}): string {
  const ns = opts.namespace ?? 'namespace0.0';
  return `ndctl create-namespace -f -e ${ns} -m devdax -a 2M${opts.mapMem ? ' --map=mem' : ''} >&2`;
}

/** Shell: print the driver that `dev` (e.g. dax0.0) is bound to, or "none". */
export function daxDriver(dev = 'dax0.0'): string {
  return `{ d=$(readlink /sys/bus/dax/devices/${dev}/driver) && basename "$d" || echo none; }`;
}

/**
 * Shell lines that switch `dev` to famfs mode: unbind it from device_dax and
 * bind it to fsdev_dax (by adding its name to the driver's id list). The
 * famfs kernel takes a dax device only in this mode; user space can then no
 * longer map /dev/daxN.M. Fails (non-zero) when a step fails.
 */
export function toFamfsMode(dev = 'dax0.0'): string {
  return [
    `echo ${dev} > /sys/bus/dax/drivers/device_dax/unbind`,
    `echo ${dev} > /sys/bus/dax/drivers/fsdev_dax/new_id`,
    `[ "$(${daxDriver(dev)})" = fsdev_dax ]`,
  ].join(' && ');
}

/** Shell lines that switch `dev` back from famfs mode to device_dax (the reverse of `toFamfsMode`). */
export function toDevdaxMode(dev = 'dax0.0'): string {
  return [
    `echo ${dev} > /sys/bus/dax/drivers/fsdev_dax/unbind`,
    `echo ${dev} > /sys/bus/dax/drivers/fsdev_dax/remove_id`,
    `echo ${dev} > /sys/bus/dax/drivers/device_dax/bind`,
    `[ "$(${daxDriver(dev)})" = device_dax ]`,
  ].join(' && ');
}

/** Poll for `file` (a host path) to exist, every 50 ms, up to `ms`. */
export async function waitForFile(file: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (fs.existsSync(file)) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The `key=value` lines a guest script printed, as a map (the first `=` splits; a later line wins). */
export function kv(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of stdout.split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) m.set(l.slice(0, i), l.slice(i + 1));
  }
  return m;
}

/**
 * The harness of one describe block: made in beforeAll (the body of a skipped
 * describe still runs while tests are collected), closed in afterAll; and the
 * python3 interpreter itself for guest scripts (a version manager's shim,
 * pyenv's, costs ~6 s per start in a TCG guest, the interpreter ~0.6 s).
 */
export function vmSuite(): { readonly vm: VmHarness; readonly python: string } {
  let vm: VmHarness | undefined;
  let python = 'python3';
  beforeAll(() => {
    vm = new VmHarness();
    python = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim() || 'python3';
  });
  afterAll(() => vm?.close());
  return {
    get vm(): VmHarness {
      if (vm === undefined) throw new Error('vmSuite: the harness is made in beforeAll');
      return vm;
    },
    get python(): string {
      return python;
    },
  };
}

/** Shell: wait (polling) for $SCRATCH/NAME, which the host makes; fail (exit 9) after `s` seconds. */
export function waitHost(name: string, s = 150): string {
  return `i=0; while [ ! -e $SCRATCH/${name} ]; do i=$((i+1)); [ $i -gt ${s * 5} ] && { echo "no ${name} from the host" >&2; exit 9; }; sleep 0.2; done`;
}
