/**
 * The VM harness itself: a guest boots the famfs-capable kernel, runs a
 * script with the host's tools, reports its exit status and output; a dax
 * device appears and switches to famfs mode and back; two guests on one
 * shared-memory file see each other's bytes; a hung guest is killed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MiB, needs, onPathReq, seeded } from '../helpers.js';
import { GUEST_SCRATCH, GuestError, daxDriver, devdaxNamespace, toDevdaxMode, toFamfsMode, vmRequirements, waitForFile, vmSuite } from './harness.js';

const DAX_BYTES = path.join(path.dirname(new URL(import.meta.url).pathname), 'dax-bytes.py');

/** Has process `pid` ended (gone, or a zombie)? */
function pidGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

describe.runIf(needs('VM harness tests', [...vmRequirements(), onPathReq('python3')]))('the VM harness', () => {
  const suite = vmSuite();

  it('runs a script in the guest: its output, its environment, its exit status (non-zero too)', async () => {
    const ok = await suite.vm.runGuest({
      name: 'exit0',
      script: 'echo "hello $GREETING"; echo "to stderr" >&2; pwd; echo "$SCRATCH"; exit 0\n',
      env: { GREETING: "it's me" },
      timeoutMs: 60_000,
    });
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toBe(`hello it's me\n${path.resolve(new URL('../..', import.meta.url).pathname)}\n${GUEST_SCRATCH}\n`);
    expect(ok.stderr).toBe('to stderr\n');
    // the script's output is not on the console, the kernel's is
    expect(ok.console).not.toMatch(/hello it/);
    expect(ok.console).toMatch(/Linux version/);
    expect(ok.bootMs).toBeGreaterThan(0);

    const bad = await suite.vm.runGuest({ name: 'exit7', script: 'echo partial; exit 7\n', pmem: [], timeoutMs: 60_000 });
    expect(bad.exitCode).toBe(7);
    expect(bad.stdout).toBe('partial\n');
  }, 150_000);

  it("runs the host's node; makes /dev/dax0.0; switches it to famfs mode and back", async () => {
    const r = await suite.vm.runGuest({
      name: 'devdax',
      script: [
        'set -e',
        `${process.execPath} -e 'console.log("node", process.version)'`,
        devdaxNamespace(),
        'echo "size $(cat /sys/bus/dax/devices/dax0.0/size) align $(cat /sys/bus/dax/devices/dax0.0/align)"',
        '[ -c /dev/dax0.0 ] && echo "chardev yes"',
        `echo "driver $(${daxDriver()})"`,
        toFamfsMode(),
        `echo "driver $(${daxDriver()})"`,
        toDevdaxMode(),
        `echo "driver $(${daxDriver()})"`,
        '',
      ].join('\n'),
      timeoutMs: 90_000,
    });
    expect(r.stderr).toMatch(/"mode":"devdax"/);
    expect(r.exitCode).toBe(0);
    // 512 MiB region less the page structures ndctl's default --map=dev keeps
    // in the device (64 bytes per 4 KiB page: 8 MiB) and the 2 MiB-aligned info block
    expect(r.stdout).toBe(
      [`node ${process.version}`, `size ${502 * MiB} align ${2 * MiB}`, 'chardev yes', 'driver device_dax', 'driver fsdev_dax', 'driver device_dax', ''].join('\n'),
    );
  }, 120_000);

  it('two guests on one shared-memory file see the same bytes, both ways, while both run', async () => {
    const shared = suite.vm.sharedMemoryFile(512 * MiB);
    const dataOff = 4 * MiB;
    const dataLen = 1 * MiB;
    const ackOff = 8 * MiB;
    const rnd = seeded('vm: two guests on one shared-memory file');
    const fillSeed = rnd.next();
    const ack = rnd.bytes(32).toString('hex');
    const a = suite.vm.startGuest({
      name: 'shared-a',
      sharedMemory: shared,
      pmem: [{ offset: 1024 * MiB, size: 512 * MiB }],
      script: [
        'set -e',
        devdaxNamespace({ mapMem: true }),
        'ndctl list -n namespace0.0 | grep -o \'"uuid":"[^"]*"\' > $SCRATCH/uuid',
        `${suite.python} ${DAX_BYTES} fill /dev/dax0.0 ${dataOff} ${dataLen} ${fillSeed} > $SCRATCH/sum.tmp`,
        'mv $SCRATCH/sum.tmp $SCRATCH/sum',
        // B writes this once it has read the data: A sees B's write while it runs
        `${suite.python} ${DAX_BYTES} wait /dev/dax0.0 ${ackOff} ${ack} 90`,
        'echo acked',
        '',
      ].join('\n'),
      timeoutMs: 150_000,
    });
    // B boots only once A made the namespace and wrote: B's kernel finds the
    // devdax info block A's ndctl wrote, so dax0.0 appears without ndctl
    expect(await waitForFile(path.join(a.scratchDir, 'sum'), 100_000)).toBe(true);
    const sumA = fs.readFileSync(path.join(a.scratchDir, 'sum'), 'utf8');
    // what A wrote is the seeded pattern, not, say, zeros that B would read back as well
    const expected = spawnSync('python3', ['-c', `import hashlib, random; print(hashlib.sha256(random.Random(${fillSeed}).randbytes(${dataLen})).hexdigest())`], { encoding: 'utf8' });
    expect(sumA).toBe(expected.stdout);
    const b = await suite.vm.runGuest({
      name: 'shared-b',
      sharedMemory: shared,
      pmem: [{ offset: 1024 * MiB, size: 512 * MiB }],
      script: [
        'set -e',
        '[ -c /dev/dax0.0 ]',
        'ndctl list -n namespace0.0 | grep -o \'"uuid":"[^"]*"\'',
        `${suite.python} ${DAX_BYTES} sum /dev/dax0.0 ${dataOff} ${dataLen}`,
        `${suite.python} ${DAX_BYTES} put /dev/dax0.0 ${ackOff} ${ack}`,
        '',
      ].join('\n'),
      timeoutMs: 90_000,
    });
    const ra = await a.done;
    expect(b.exitCode, b.stderr).toBe(0);
    expect(ra.exitCode, ra.stderr).toBe(0);
    expect(ra.stdout).toBe('acked\n');
    const uuidA = fs.readFileSync(path.join(a.scratchDir, 'uuid'), 'utf8');
    expect(uuidA).toMatch(/"uuid":"[0-9a-f-]{36}"/);
    expect(b.stdout).toBe(uuidA + sumA);
  }, 240_000);

  it('a guest that overruns its timeout is killed and reported with its console', async () => {
    const g = suite.vm.startGuest({ name: 'hang', script: 'echo started; sleep 600\n', pmem: [], timeoutMs: 10_000 });
    const err = await g.done.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GuestError);
    expect((err as GuestError).message).toMatch(/timed out after 10000 ms/);
    expect((err as GuestError).console).toMatch(/Linux version/);
    expect(pidGone(g.pid)).toBe(true);
  }, 30_000);
});
