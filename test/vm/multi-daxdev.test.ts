/**
 * A famfs file system on two real dax devices, in a guest of the famfs
 * kernel: two pmem regions become /dev/dax0.0 and /dev/dax1.0; mkfs.famfs
 * makes the second a secondary of the first; a file is interleaved across
 * both and another placed on the secondary. What the famfs kernel (series
 * V10) does with that:
 *
 * - it refuses every fmap with an extent on a daxdev other than 0
 *   (famfs_check_ext_alignment), so famfs mode cannot serve this file
 *   system. `famfs mount` (famfs_mode=auto) sees that, leaves the devices in
 *   device_dax mode and serves READ/WRITE from both devices; famfs_mode=on
 *   is refused in one line and nothing is mounted;
 * - the bytes read through the mount are the bytes written offline;
 * - a host with no record of where the secondary is finds it by reading the
 *   superblocks of /dev/dax* (daxdev list from an empty state directory);
 * - with the experimental `-o famfs_daxdevs=2` the daemon hands the kernel
 *   the maps anyway: the kernel refuses each one naming daxdev 1 (open
 *   fails with EINVAL, "alignment errors" in its log), never asks
 *   GET_DAXDEV for index 1, and maps the file on daxdev 0.
 *
 * Then three guests on two shared memories (both regions backed by host
 * files): the master adds the second device to its mounted file system; a
 * client mounted READ/WRITE before the add finds the device by itself and
 * serves files on it without a remount; a client mounted in famfs mode
 * before the add keeps mapping the files on daxdev 0 through DAX, and an
 * open of a file on daxdev 1 fails with EOPNOTSUPP (the daemon's log says
 * why) instead of the kernel's EINVAL.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { needs } from '../helpers.js';
import { type Guest, GuestError, daxDriver, devdaxNamespace, vmRequirements, waitForFile, kv, vmSuite, waitHost } from './harness.js';

const MASTER = '21212121-3333-4444-8555-666677778888';
const CLIENT_RW = '31313131-3333-4444-8555-666677778888';
const CLIENT_DAX = '41414141-3333-4444-8555-666677778888';

/** Shell: wait for the dax devices a peer's namespaces make visible. */
const waitDax = `for d in /dev/dax0.0 /dev/dax1.0; do i=0; while [ ! -e $d ]; do i=$((i+1)); [ $i -gt 100 ] && { echo "no $d" >&2; exit 8; }; sleep 0.2; done; done`;
const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

describe.runIf(needs('multi-device famfs in a VM (a famfs kernel under qemu)', vmRequirements()))('a file system on two dax devices, on the famfs kernel', () => {
  const suite = vmSuite();

  it('mounts READ/WRITE (the kernel maps daxdev 0 only), famfs_mode=on is refused in one line, the bytes are the offline bytes', async () => {
    const script = `
set -e
trap 'rc=$?; [ $rc -eq 0 ] || { echo "--- daemon log:"; tail -30 /run/famfs/*.log; } >&2' EXIT
F="./bin/famfs"; M=/mnt/famfs
${devdaxNamespace({ namespace: 'namespace0.0' })}
${devdaxNamespace({ namespace: 'namespace1.0' })}
./bin/mkfs.famfs /dev/dax0.0 /dev/dax1.0 >/dev/null
$F -D /dev/dax0.0 creat -N 2 -s 24m -r -S 61 striped
$F -D /dev/dax0.0 creat --daxdev 1 -s 6m -r -S 62 on1
$F -D /dev/dax0.0 creat --daxdev 0 -s 4m -r -S 63 on0
echo "striped_devs=$($F -D /dev/dax0.0 getmap striped | sed -n 's/^.*\\tdaxdev \\([0-9]\\)$/\\1/p' | sort | tr -d '\\n')"
echo "striped_offline=$($F -D /dev/dax0.0 cat striped | sha256sum | cut -c1-64)"
echo "ndev=$($F daxdev list --json /dev/dax0.0 | grep -c '"index"')"
# another host: no record of the secondary; a scan of /dev/dax* finds it
echo "scan_path=$(FAMFS_STATE_DIR=/run/other-host $F daxdev list --json /dev/dax0.0 | grep -o '"path": "/dev/dax1.0"' | cut -d'"' -f4)"
mkdir -p $M
set +e
on_out=$($F mount -o famfs_mode=on /dev/dax0.0 $M 2>&1); echo "on_rc=$?"
set -e
echo "on_lines=$(printf '%s\\n' "$on_out" | grep -c .)"
echo "on_msg=$on_out"
echo "on_mounted=$(grep -c " $M " /proc/mounts || true)"
$F mount /dev/dax0.0 $M
echo "driver0=$(${daxDriver('dax0.0')})"
echo "driver1=$(${daxDriver('dax1.0')})"
echo "data_path=$($F status --json $M | grep -o '"dataPath": *"[a-z-]*"' | grep -o '[a-z-]*"$' | tr -d '"')"
echo "striped_mount=$(sha256sum <$M/striped | cut -c1-64)"
$F verify -S 62 -f $M/on1 >/dev/null && echo on1_verify=ok
echo "meta=$(ls -a $M/.meta | tr '\\n' ' ')"
$F umount $M
$F fsck /dev/dax0.0 >/dev/null && echo fsck=clean
# experimental famfs_daxdevs=2: famfs mode for both devices; the V10 kernel refuses every map off daxdev 0
$F mount -o famfs_daxdevs=2 /dev/dax0.0 $M
echo "x_path=$($F status --json $M | grep -o '"dataPath": *"[a-z-]*"' | grep -o '[a-z-]*"$' | tr -d '"')"
$F verify -S 63 -f $M/on0 >/dev/null && echo x_on0=ok
if cat $M/on1 >/dev/null 2>/tmp/x_err; then echo x_on1=read; else echo "x_on1_err=$(cat /tmp/x_err)"; fi
if cat $M/striped >/dev/null 2>/tmp/x_err; then echo x_striped=read; else echo "x_striped_err=$(cat /tmp/x_err)"; fi
echo "x_dmesg=$(dmesg | grep -c 'alignment errors found')"
echo "x_status=$($F status --json $M | tr -d '\n')"
$F umount $M
`;
    const r = await suite.vm.runGuest({
      name: 'multi-daxdev', script,
      env: { FAMFS_SYSTEM_UUID: MASTER, FAMFS_RUN_DIR: '/run/famfs', FAMFS_STATE_DIR: '/run/famfs-state' },
      pmem: [{ offset: 1 * GiB, size: 512 * MiB }, { offset: 2 * GiB, size: 512 * MiB }],
      timeoutMs: 180_000,
    });
    const out = kv(r.stdout);
    const fail = `exit ${r.exitCode}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-3000)}\nconsole:\n${r.console.slice(-2000)}`;
    expect(r.exitCode, fail).toBe(0);
    expect(out.get('striped_devs'), fail).toBe('01');
    expect(out.get('ndev')).toBe('2');
    expect(out.get('scan_path'), fail).toBe('/dev/dax1.0');
    expect(out.get('on_rc')).not.toBe('0');
    expect(out.get('on_lines'), fail).toBe('1');
    expect(out.get('on_msg'), fail).toMatch(/spans 2 devices.*maps files on daxdev 0 only/);
    expect(out.get('on_mounted')).toBe('0');
    expect(out.get('driver0'), fail).toBe('device_dax');
    expect(out.get('driver1'), fail).toBe('device_dax');
    expect(out.get('data_path'), fail).toBe('read-write');
    expect(out.get('striped_mount'), fail).toBe(out.get('striped_offline'));
    expect(out.get('on1_verify'), fail).toBe('ok');
    expect(out.get('meta')).toBe('. .. .log .superblock .superblock.1 ');
    expect(out.get('fsck')).toBe('clean');
    // famfs_daxdevs=2: the kernel itself refuses the maps with an extent on daxdev 1 (EINVAL at open,
    // "N alignment errors found" in its log) and maps the file on daxdev 0
    expect(out.get('x_path'), fail).toBe('famfs-dax');
    expect(out.get('x_on0'), fail).toBe('ok');
    expect(out.get('x_on1_err'), fail).toMatch(/Invalid argument/);
    expect(out.get('x_striped_err'), fail).toMatch(/Invalid argument/);
    expect(Number(out.get('x_dmesg')), fail).toBeGreaterThanOrEqual(2);
    const xs = JSON.parse(out.get('x_status') ?? '{}') as { ops: Record<string, number> };
    expect(xs.ops.GET_FMAP, JSON.stringify(xs.ops)).toBeGreaterThanOrEqual(3);
    // GET_DAXDEV only for daxdev 0: the kernel never took a map that names daxdev 1
    expect(xs.ops.GET_DAXDEV, JSON.stringify(xs.ops)).toBe(1);
    console.log(`multi-daxdev VM: boot ${r.bootMs} ms, script ${r.scriptMs} ms, wall ${r.durationMs} ms`);
  }, 240_000);

  it('three hosts, two shared memories: the master adds a device; a READ/WRITE client serves its files without a remount; a famfs-mode client refuses them with EOPNOTSUPP', async () => {
    const shared = [suite.vm.sharedMemoryFile(256 * MiB), suite.vm.sharedMemoryFile(256 * MiB)];
    const pmem = [{ offset: 1 * GiB, size: 256 * MiB }, { offset: 1536 * MiB, size: 256 * MiB }];
    const common = `set -e
trap 'rc=$?; [ $rc -eq 0 ] || { echo "--- daemon log:"; tail -30 /run/famfs/*.log; } >&2' EXIT
F="./bin/famfs"; M=/mnt/famfs
step() { echo "multi-daxdev step: $*" > /dev/kmsg; }
mkdir -p $M`;
    const scriptA = `${common}
${devdaxNamespace({ namespace: 'namespace0.0', mapMem: true })}
${devdaxNamespace({ namespace: 'namespace1.0', mapMem: true })}
./bin/mkfs.famfs /dev/dax0.0 >/dev/null
$F -D /dev/dax0.0 creat -s 8m -r -S 71 a.bin
$F mount -o famfs_mode=off /dev/dax0.0 $M
echo "a_sha=$(sha256sum <$M/a.bin | cut -c1-64)"
step A mounted; touch $SCRATCH/a-mounted
${waitHost('clients-mounted', 200)}
step A adds dax1.0
$F devadd $M /dev/dax1.0 >/dev/null
$F creat --daxdev 1 -s 6m -r -S 72 $M/on1.bin
$F creat -N 2 -s 8m -r -S 73 $M/both.bin
echo "a_both_devs=$($F getmap $M/both.bin | sed -n 's/^.*\\tdaxdev \\([0-9]\\)$/\\1/p' | sort | tr -d '\\n')"
step A added; touch $SCRATCH/a-added
${waitHost('clients-done', 200)}
$F umount $M
$F fsck /dev/dax0.0 >/dev/null && echo a_fsck=clean
`;
    const scriptB = `${common}
${waitDax}
$F mount -o famfs_mode=off /dev/dax0.0 $M
echo "b_path=$($F status --json $M | grep -o '"dataPath": *"[a-z-]*"' | grep -o '[a-z-]*"$' | tr -d '"')"
step B mounted; touch $SCRATCH/b-mounted
${waitHost('a-added', 200)}
i=0; while [ ! -e $M/both.bin ]; do i=$((i+1)); [ $i -gt 100 ] && { echo "no both.bin" >&2; exit 7; }; sleep 0.2; done
$F verify -S 72 -f $M/on1.bin >/dev/null && echo b_on1=ok
$F verify -S 73 -f $M/both.bin >/dev/null && echo b_both=ok
echo "b_dax1=$($F daxdev list --json $M | grep -c '"path": "/dev/dax1.0"')"
$F umount $M
`;
    const scriptC = `${common}
${waitDax}
$F mount /dev/dax0.0 $M
echo "c_path=$($F status --json $M | grep -o '"dataPath": *"[a-z-]*"' | grep -o '[a-z-]*"$' | tr -d '"')"
step C mounted; touch $SCRATCH/c-mounted
${waitHost('a-added', 200)}
i=0; while [ ! -e $M/both.bin ]; do i=$((i+1)); [ $i -gt 100 ] && { echo "no both.bin" >&2; exit 7; }; sleep 0.2; done
echo "c_sha=$(sha256sum <$M/a.bin | cut -c1-64)"
if cat $M/on1.bin >/dev/null 2>/tmp/c_err; then echo c_on1=read; else echo "c_on1_err=$(cat /tmp/c_err)"; fi
echo "c_log=$(grep -c 'has an extent on daxdev 1' /run/famfs/*.log)"
echo "c_status=$($F status --json $M | tr -d '\\n')"
$F umount $M
`;
    const env = { FAMFS_RUN_DIR: '/run/famfs', FAMFS_STATE_DIR: '/run/famfs-state' };
    const guest = (name: string, script: string, uuid: string): Guest => suite.vm.startGuest({ name, script, env: { ...env, FAMFS_SYSTEM_UUID: uuid }, pmem, sharedMemory: shared, timeoutMs: 360_000 });
    const a = guest('master', scriptA, MASTER);
    let b: Guest | undefined;
    let c: Guest | undefined;
    try {
      if (!(await waitForFile(path.join(a.scratchDir, 'a-mounted'), 240_000))) throw new Error('guest A never mounted');
      b = guest('client-rw', scriptB, CLIENT_RW);
      c = guest('client-dax', scriptC, CLIENT_DAX);
      for (const [g, f] of [[b, 'b-mounted'], [c, 'c-mounted']] as const) {
        if (!(await waitForFile(path.join(g.scratchDir, f), 240_000))) throw new Error(`${f} never came`);
      }
      fs.writeFileSync(path.join(a.scratchDir, 'clients-mounted'), '');
      if (!(await waitForFile(path.join(a.scratchDir, 'a-added'), 180_000))) throw new Error('guest A never added the device');
      for (const g of [b, c]) fs.writeFileSync(path.join(g.scratchDir, 'a-added'), '');
      const [rb, rc] = await Promise.all([b.done, c.done]);
      fs.writeFileSync(path.join(a.scratchDir, 'clients-done'), '');
      const ra = await a.done;
      const oa = kv(ra.stdout);
      const ob = kv(rb.stdout);
      const oc = kv(rc.stdout);
      const fail = [ra, rb, rc].map((r, i) => `${'ABC'[i]} exit ${r.exitCode}\n${r.stdout}\n${r.stderr.slice(-2000)}`).join('\n');
      expect([ra.exitCode, rb.exitCode, rc.exitCode], fail).toEqual([0, 0, 0]);
      expect(oa.get('a_both_devs'), fail).toBe('01');
      expect(oa.get('a_fsck')).toBe('clean');
      expect(ob.get('b_path')).toBe('read-write');
      expect(ob.get('b_on1'), fail).toBe('ok');
      expect(ob.get('b_both'), fail).toBe('ok');
      expect(ob.get('b_dax1'), fail).toBe('1');
      expect(oc.get('c_path'), fail).toBe('famfs-dax');
      expect(oc.get('c_sha'), fail).toBe(oa.get('a_sha'));
      expect(oc.get('c_on1_err'), fail).toMatch(/Operation not supported/);
      expect(oc.get('c_log'), fail).not.toBe('0');
      const sc = JSON.parse(oc.get('c_status') ?? '{}') as { ops: Record<string, number> };
      expect(sc.ops.READ ?? 0, fail).toBe(0);
      console.log(`multi-daxdev three hosts: A script ${ra.scriptMs} ms, B ${rb.scriptMs} ms, C ${rc.scriptMs} ms`);
    } catch (e) {
      a.kill();
      b?.kill();
      c?.kill();
      if (e instanceof GuestError) throw new Error(`${e.message}\n${e.console.slice(-2000)}`);
      throw e;
    }
  }, 420_000);
});
