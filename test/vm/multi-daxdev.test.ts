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
 *   superblocks of /dev/dax* (daxdev list from an empty state directory).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needs } from '../helpers.js';
import { VmHarness, daxDriver, devdaxNamespace, vmRequirements } from './harness.js';

const MASTER = '21212121-3333-4444-8555-666677778888';
const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

function kv(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of stdout.split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) m.set(l.slice(0, i), l.slice(i + 1));
  }
  return m;
}

describe.runIf(needs('multi-device famfs in a VM (a famfs kernel under qemu)', vmRequirements()))('a file system on two dax devices, on the famfs kernel', () => {
  let vm: VmHarness;
  beforeAll(() => {
    vm = new VmHarness();
  });
  afterAll(() => vm?.close());

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
`;
    const r = await vm.runGuest({
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
    console.log(`multi-daxdev VM: boot ${r.bootMs} ms, script ${r.scriptMs} ms, wall ${r.durationMs} ms`);
  }, 240_000);
});
