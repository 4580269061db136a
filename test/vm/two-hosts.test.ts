/**
 * Two hosts, one memory: two guests booted together, each given the same
 * host file as the pmem region under its dax device, so both see one
 * device on the same bytes. Guest A (the master) makes the file system,
 * mounts it in famfs mode and adds files; guest B (another system UUID: a
 * client) mounts the same device and reads them through DAX — a file A
 * creates while B is mounted shows up on B at its next access, with the
 * fallback timer off (`-o refresh=0`): the log header in shared memory is
 * the version B compares. A store through an mmap on A, written back with
 * `famfs flush`, is read by B through its own mmap after `famfs flush -i`.
 *
 * The host orchestrates the two scripts through files in their scratch
 * directories (each guest sees only its own).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MiB, needs, onPathReq } from '../helpers.js';
import { type Guest, GuestError, devdaxNamespace, vmRequirements, waitForFile, kv, vmSuite, waitHost } from './harness.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const MMAP_FILE = path.join(HERE, 'mmap-file.py');
const MASTER = 'aaaa0001-0000-4000-8000-00000000000a';
const CLIENT = 'bbbb0002-0000-4000-8000-00000000000b';

describe.runIf(needs('two guests on one shared memory (a famfs kernel under qemu)', [...vmRequirements(), onPathReq('python3')]))('two hosts, one memory', () => {
  const suite = vmSuite();

  it('a master and a client share files through famfs mode: same bytes, new files seen at the next access, mmap stores seen through mmap', async () => {
    const shared = suite.vm.sharedMemoryFile(512 * MiB);
    const common = `set -e
trap 'rc=$?; [ $rc -eq 0 ] || { echo "--- daemon log:"; tail -30 /run/famfs/*.log; } >&2' EXIT
F="./bin/famfs"; M=/mnt/famfs; P="${suite.python} ${MMAP_FILE}"
step() { echo "two-hosts step: $*" > /dev/kmsg; }
mkdir -p $M`;
    const scriptA = `${common}
${devdaxNamespace({ mapMem: true })}
./bin/mkfs.famfs /dev/dax0.0 >/dev/null
$F -D /dev/dax0.0 creat -s 8m -r -S 31 a.bin
$F mount /dev/dax0.0 $M
echo "a_sha=$(sha256sum <$M/a.bin | cut -c1-64)"
step A mounted; touch $SCRATCH/a-mounted
${waitHost('b-mounted')}
step A creates later.bin
$F creat -s 4m -r -S 32 $M/later.bin
$F mkdir $M/dir
$F creat -s 2m -r -S 33 $M/dir/deep.bin
# a store through a DAX mapping, written back for the other host
$P put $M/a.bin 8192 0123456789abcdeffedcba9876543210
$F flush $M/a.bin
step A created; touch $SCRATCH/a-created
${waitHost('b-done')}
echo "a_status=$($F status --json $M | tr -d '\\n')"
$F umount $M
$F fsck /dev/dax0.0 >/dev/null && echo a_fsck=clean
`;
    const scriptB = `${common}
i=0; while [ ! -e /dev/dax0.0 ]; do i=$((i+1)); [ $i -gt 50 ] && { echo "no dax0.0" >&2; exit 8; }; sleep 0.2; done
$F mount -o refresh=0 /dev/dax0.0 $M
echo "b_role=$($F status --json $M | grep -o '"role": *"[a-z]*"' | grep -o '[a-z]*"$' | tr -d '"')"
echo "b_sha=$(sha256sum <$M/a.bin | cut -c1-64)"
echo "b_mmap_sha=$($P sum $M/a.bin)"
step B mounted; touch $SCRATCH/b-mounted
${waitHost('a-created')}
step B reads later.bin
# no logplay, no timer: the first access sees what A logged
$F verify -S 32 -f $M/later.bin >/dev/null && echo b_later=ok
$F verify -S 33 -f $M/dir/deep.bin >/dev/null && echo b_deep=ok
echo "b_ls=$(ls $M | tr '\\n' ' ')"
$F flush -i $M/a.bin
echo "b_seen=$($P get $M/a.bin 8192 16)"
echo "b_status=$($F status --json $M | tr -d '\\n')"
if touch $M/nope 2>/dev/null; then echo b_write=allowed; else echo b_write=refused; fi
$F umount $M
`;
    const env = { FAMFS_RUN_DIR: '/run/famfs' };
    const pmem = [{ offset: 1024 * MiB, size: 512 * MiB }];
    const a: Guest = suite.vm.startGuest({ name: 'master', script: scriptA, env: { ...env, FAMFS_SYSTEM_UUID: MASTER }, pmem, sharedMemory: shared, timeoutMs: 300_000 });
    let b: Guest | undefined;
    try {
      if (!(await waitForFile(path.join(a.scratchDir, 'a-mounted'), 200_000))) throw new Error('guest A never mounted');
      b = suite.vm.startGuest({ name: 'client', script: scriptB, env: { ...env, FAMFS_SYSTEM_UUID: CLIENT }, pmem, sharedMemory: shared, timeoutMs: 240_000 });
      if (!(await waitForFile(path.join(b.scratchDir, 'b-mounted'), 200_000))) throw new Error('guest B never mounted');
      fs.writeFileSync(path.join(a.scratchDir, 'b-mounted'), '');
      if (!(await waitForFile(path.join(a.scratchDir, 'a-created'), 120_000))) throw new Error('guest A never created its files');
      fs.writeFileSync(path.join(b.scratchDir, 'a-created'), '');
      const rb = await b.done;
      fs.writeFileSync(path.join(a.scratchDir, 'b-done'), '');
      const ra = await a.done;
      const oa = kv(ra.stdout);
      const ob = kv(rb.stdout);
      const fail = `A exit ${ra.exitCode}\n${ra.stdout}\n${ra.stderr.slice(-2500)}\nB exit ${rb.exitCode}\n${rb.stdout}\n${rb.stderr.slice(-2500)}`;
      expect(rb.exitCode, fail).toBe(0);
      expect(ra.exitCode, fail).toBe(0);
      expect(ob.get('b_role')).toBe('client');
      expect(ob.get('b_sha'), fail).toBe(oa.get('a_sha'));
      expect(ob.get('b_mmap_sha'), fail).toBe(oa.get('a_sha'));
      expect(ob.get('b_later'), fail).toBe('ok');
      expect(ob.get('b_deep'), fail).toBe('ok');
      expect(ob.get('b_ls')).toBe('a.bin dir later.bin ');
      expect(ob.get('b_seen'), fail).toBe('0123456789abcdeffedcba9876543210');
      expect(ob.get('b_write')).toBe('refused');
      expect(oa.get('a_fsck')).toBe('clean');
      const sb = JSON.parse(ob.get('b_status') ?? '{}') as { dataPath: string; ops: Record<string, number> };
      expect(sb.dataPath).toBe('famfs-dax');
      expect(sb.ops.READ ?? 0).toBe(0);
      console.log(`two-hosts VM: A boot ${ra.bootMs} ms, script ${ra.scriptMs} ms; B boot ${rb.bootMs} ms, script ${rb.scriptMs} ms`);
    } catch (e) {
      a.kill();
      b?.kill();
      if (e instanceof GuestError) throw new Error(`${e.message}\n${e.console.slice(-2000)}`);
      throw e;
    }
  }, 400_000);
});
