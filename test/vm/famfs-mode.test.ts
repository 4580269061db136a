/**
 * famfs for real: a guest runs the famfs kernel (the FUSE famfs series), a
 * real dax device, and this repository's own tools. `famfs mount` finds the
 * kernel offers DAX_FMAP, switches the device to famfs mode (fsdev_dax),
 * and serves GET_FMAP/GET_DAXDEV: the kernel maps every file onto the device
 * memory itself. Checked from inside the guest and again on the host:
 *
 * - files made offline and by `famfs cp` read back with the same sha256;
 * - GET_FMAP once per opened file, GET_DAXDEV once, READ never reaches the
 *   daemon (its request counts, from `famfs status`);
 * - an mmap is a DAX mapping: no page-cache pages (fincore), and a store
 *   through it is on the device after the unmount (read offline);
 * - .meta/.log reads through the mount; a file `famfs creat` adds to the
 *   mounted master is there and mappable at once;
 * - the device goes back to device_dax when the daemon ends;
 * - what a 64 MiB read costs through DAX against READ/WRITE in the same guest.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { needs, onPathReq } from '../helpers.js';
import { daxDriver, devdaxNamespace, vmRequirements, kv, vmSuite } from './harness.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const MMAP_FILE = path.join(HERE, 'mmap-file.py');
const MASTER = '11112222-3333-4444-8555-666677778888';

describe.runIf(needs('famfs-mode VM tests (a famfs kernel under qemu)', [...vmRequirements(), onPathReq('python3')]))('famfs mode on a famfs kernel', () => {
  const suite = vmSuite();

  it('maps files through GET_FMAP: same bytes, no READ to the daemon, DAX mmaps, writes on the device, the device restored', async () => {
    const script = `
set -e
trap 'rc=$?; [ $rc -eq 0 ] || { echo "--- daemon log:"; tail -40 /run/famfs/*.log; } >&2' EXIT
F="./bin/famfs"; M=/mnt/famfs; P="${suite.python} ${MMAP_FILE}"
# progress on the console (the kernel log), for a guest that hangs
step() { echo "famfs-mode step: $*" > /dev/kmsg; }
${devdaxNamespace()}
./bin/mkfs.famfs /dev/dax0.0 >/dev/null
# made offline, before the mount
$F -D /dev/dax0.0 mkdir d
$F -D /dev/dax0.0 creat -s 8m -r -S 1 offline.bin
$F -D /dev/dax0.0 creat -s 64m -r -S 3 big.bin
echo "offline_sha=$($F -D /dev/dax0.0 cat offline.bin | sha256sum | cut -c1-64)"
head -c 3000001 /dev/urandom > /tmp/local.bin
echo "local_sha=$(sha256sum </tmp/local.bin | cut -c1-64)"
mkdir -p $M
step '$F mount -d /dev/dax0.0 $M'
$F mount -d /dev/dax0.0 $M
echo "driver_mounted=$(${daxDriver()})"
# through the DAX-mapped mount
echo "mount_sha=$(sha256sum <$M/offline.bin | cut -c1-64)"
$F verify -S 1 -f $M/offline.bin >/dev/null && echo verify_mount=ok
step '$F cp /tmp/local.bin $M/d/local.bin'
$F cp /tmp/local.bin $M/d/local.bin
echo "cp_sha=$(sha256sum <$M/d/local.bin | cut -c1-64)"
echo "mmap_sha=$($P sum $M/offline.bin)"
echo "fincore=$(fincore -n -o RES -b $M/offline.bin | tr -d ' ')"
echo "log_bytes=$(cat $M/.meta/.log | wc -c)"
echo "sb_magic=$(od -An -tx8 -N8 $M/.meta/.superblock | tr -d ' ')"
# a file added to the mounted master is there at once, and maps
step '$F creat -s 4m -r -S 5 $M/new.bin'
$F creat -s 4m -r -S 5 $M/new.bin
$F verify -S 5 -f $M/new.bin >/dev/null && echo verify_new=ok
echo "new_mmap_sha=$($P sum $M/new.bin)"
# a store through a DAX mapping, then famfs flush: on the device after the unmount
step '$P put $M/offline.bin 4096 feedfacecafeb'
$P put $M/offline.bin 4096 feedfacecafebeef
step '$F flush $M/offline.bin'
$F flush $M/offline.bin
# what a 64 MiB read costs through DAX (the kernel copies from device memory)
s=$(date +%s%N); cat $M/big.bin >/dev/null; e=$(date +%s%N); echo "dax_read_ns=$((e - s))"
echo "status1=$($F status --json $M | tr -d '\n')"
step '$F umount $M'
$F umount $M
echo "driver_after=$(${daxDriver()})"
echo "offline_after=$($F -D /dev/dax0.0 cat offline.bin | od -An -tx1 -j4096 -N8 | tr -d ' ')"
$F fsck /dev/dax0.0 >/dev/null && echo fsck=clean
# the same 64 MiB read through READ/WRITE (famfs mode off), in the same guest
step '$F mount -o famfs_mode=off'
$F mount -o famfs_mode=off /dev/dax0.0 $M
echo "rw_data_path=$($F status --json $M | grep -o '"dataPath": *"[a-z-]*"' | grep -o '[a-z-]*"$' | tr -d '"')"
s=$(date +%s%N); cat $M/big.bin >/dev/null; e=$(date +%s%N); echo "rw_read_ns=$((e - s))"
$F umount $M
`;
    const r = await suite.vm.runGuest({ name: 'famfs-mode', script, env: { FAMFS_SYSTEM_UUID: MASTER, FAMFS_RUN_DIR: '/run/famfs' }, timeoutMs: 150_000 });
    const out = kv(r.stdout);
    const fail = `exit ${r.exitCode}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}\nconsole:\n${r.console.slice(-3000)}`;
    expect(r.exitCode, fail).toBe(0);
    expect(out.get('driver_mounted'), fail).toBe('fsdev_dax');
    expect(out.get('mount_sha'), fail).toBe(out.get('offline_sha'));
    expect(out.get('mmap_sha'), fail).toBe(out.get('offline_sha'));
    expect(out.get('cp_sha'), fail).toBe(out.get('local_sha'));
    expect(out.get('verify_mount')).toBe('ok');
    expect(out.get('verify_new')).toBe('ok');
    expect(out.get('fincore'), fail).toBe('0'); // a DAX mapping: not one page in the page cache
    expect(out.get('log_bytes')).toBe(String(8 * 1024 * 1024));
    expect(out.get('sb_magic')).toBe('0000000087b282ff');
    expect(out.get('driver_after'), fail).toBe('device_dax');
    expect(out.get('offline_after'), fail).toBe('feedfacecafebeef');
    expect(out.get('fsck')).toBe('clean');
    expect(out.get('rw_data_path')).toBe('read-write');

    const status = JSON.parse(out.get('status1') ?? '{}') as { dataPath: string; daxFmap: boolean; metaLive: boolean; ops: Record<string, number> };
    expect(status.dataPath, fail).toBe('famfs-dax');
    expect(status.daxFmap).toBe(true);
    expect(status.metaLive).toBe(true);
    // READ never reached the daemon; GET_FMAP once per file opened; GET_DAXDEV once
    expect(status.ops.READ ?? 0, JSON.stringify(status.ops)).toBe(0);
    expect(status.ops.GET_DAXDEV, JSON.stringify(status.ops)).toBe(1);
    // opened: offline.bin, d/local.bin, big.bin, new.bin, .meta/.log, .meta/.superblock (each once: GET_FMAP is per inode)
    expect(status.ops.GET_FMAP, JSON.stringify(status.ops)).toBe(6);
    const dax = Number(out.get('dax_read_ns'));
    const rw = Number(out.get('rw_read_ns'));
    console.log(`famfs-mode VM: boot ${r.bootMs} ms, script ${r.scriptMs} ms, wall ${r.durationMs} ms; 64 MiB cat: DAX ${(dax / 1e6).toFixed(0)} ms, READ/WRITE ${(rw / 1e6).toFixed(0)} ms (READ/WRITE ÷ DAX = ${(rw / dax).toFixed(2)})`);
  }, 300_000);
});

describe.runIf(needs('interleaved famfs files in a VM (a famfs kernel under qemu)', [...vmRequirements(), onPathReq('python3')]))('interleaved files through the kernel\'s own interleave arithmetic', () => {
  const suite = vmSuite();

  it('strip counts 2, 3, 4 and chunks of 2, 4, 8 MiB read back with their offline sha256 through the DAX-mapped mount', async () => {
    // 4.5 GiB of pmem: buckets of at least 1 GiB for up to 4 strips
    const files = [['i2', '2', '2', '2m', '9m'], ['i3', '3', '4', '4m', '27m'], ['i4', '4', '4', '8m', '40m'], ['i4b', '4', '4', '2m', '5m']];
    const script = `
set -e
trap 'rc=$?; [ $rc -eq 0 ] || { echo "--- daemon log:"; tail -30 /run/famfs/*.log; } >&2' EXIT
F="./bin/famfs"; M=/mnt/famfs
${devdaxNamespace()}
./bin/mkfs.famfs /dev/dax0.0 >/dev/null
${files.map(([n, N, B, C, s], i) => `$F -D /dev/dax0.0 creat -s ${s} -N ${N} -B ${B} -C ${C} -r -S ${i + 21} ${n}
echo "${n}_offline=$($F -D /dev/dax0.0 cat ${n} | sha256sum | cut -c1-64)"
echo "${n}_strips=$($F -D /dev/dax0.0 getmap ${n} | sed -n 's/^Interleaved extent has \\([0-9]*\\) strips:$/\\1/p')"`).join('\n')}
mkdir -p $M
$F mount /dev/dax0.0 $M
${files.map(([n], i) => `echo "${n}_mount=$(sha256sum <$M/${n} | cut -c1-64)"
$F verify -S ${i + 21} -f $M/${n} >/dev/null && echo "${n}_verify=ok"`).join('\n')}
echo "status=$($F status --json $M | tr -d '\\n')"
$F umount $M
`;
    const r = await suite.vm.runGuest({
      name: 'interleave', script, env: { FAMFS_SYSTEM_UUID: MASTER, FAMFS_RUN_DIR: '/run/famfs' },
      pmem: [{ offset: 4 * 1024 * 1024 * 1024, size: 4608 * 1024 * 1024 }], timeoutMs: 240_000,
    });
    const out = kv(r.stdout);
    const fail = `exit ${r.exitCode}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-3000)}`;
    expect(r.exitCode, fail).toBe(0);
    for (const [n, N] of files) {
      expect(out.get(`${n}_strips`), `${n}: ${fail}`).toBe(N);
      expect(out.get(`${n}_mount`), `${n}: ${fail}`).toBe(out.get(`${n}_offline`));
      expect(out.get(`${n}_verify`), n).toBe('ok');
    }
    const status = JSON.parse(out.get('status') ?? '{}') as { dataPath: string; ops: Record<string, number> };
    expect(status.dataPath).toBe('famfs-dax');
    expect(status.ops.READ ?? 0).toBe(0);
    console.log(`interleave VM: boot ${r.bootMs} ms, script ${r.scriptMs} ms, wall ${r.durationMs} ms`);
  }, 300_000);
});
