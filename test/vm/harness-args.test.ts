/**
 * The VM harness's pure parts, without booting anything: which pmem layouts
 * it accepts, the qemu command line it builds (the shared-memory NUMA
 * layout above all), and its static-ELF check for busybox.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GiB, MiB, tmpDirs } from '../helpers.js';
import { checkRegions, isStaticElf, qemuArgs } from './harness.js';

const files = { kernel: '/k/bzImage', initramfs: '/k/initrd.gz', scratchDir: '/s/scratch', consoleFile: '/s/console.log' };

/** The value after `flag` in `args` (each occurrence). */
function values(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

describe('checkRegions', () => {
  it.each([
    ['one 512 MiB region at 1 GiB', [{ offset: 1 * GiB, size: 512 * MiB }]],
    ['two regions with RAM between them', [{ offset: 1 * GiB, size: 256 * MiB }, { offset: 1536 * MiB, size: 256 * MiB }]],
    ['no region', []],
  ])('accepts %s', (_what, regions) => {
    expect(() => checkRegions(regions)).not.toThrow();
  });

  it.each([
    ['a misaligned offset', [{ offset: 1 * GiB + 2 * MiB, size: 512 * MiB }], /multiples of 128 MiB/],
    ['a misaligned size', [{ offset: 1 * GiB, size: 100 * MiB }], /multiples of 128 MiB/],
    ['a zero size', [{ offset: 1 * GiB, size: 0 }], /positive multiples/],
    ['too little RAM below', [{ offset: 256 * MiB, size: 256 * MiB }], /at least 512 MiB of RAM below/],
    ['across the PCI hole (3 to 4 GiB)', [{ offset: 2560 * MiB, size: 1 * GiB }], /crosses the PCI hole/],
    ['starting in the PCI hole', [{ offset: 3584 * MiB, size: 1 * GiB }], /crosses the PCI hole/],
    ['adjacent regions (the kernel would merge them)', [{ offset: 1 * GiB, size: 512 * MiB }, { offset: 1536 * MiB, size: 256 * MiB }], /touch or overlap/],
    ['overlapping regions, in any order', [{ offset: 1536 * MiB, size: 256 * MiB }, { offset: 1 * GiB, size: 768 * MiB }], /touch or overlap/],
  ])('refuses %s', (_what, regions, why) => {
    expect(() => checkRegions(regions)).toThrow(why);
  });
});

describe('qemuArgs', () => {
  const tmp = tmpDirs('famfs-vm-args-');

  it('a region above 4 GiB: -m counts the RAM below 3 GiB plus what reaches the region\'s end past 4 GiB, then the tail', () => {
    const args = qemuArgs(files, { pmem: [{ offset: 4 * GiB, size: 4608 * MiB }] });
    expect(args[args.indexOf('-m') + 1]).toBe(`${3072 + 4608 + 256}M`);
    expect(args[args.indexOf('-append') + 1]).toContain('memmap=4608M!4096M');
  });

  it('default: TCG, 1 CPU, one 512 MiB region at 1 GiB with RAM above it, both 9p shares', () => {
    const args = qemuArgs(files, {});
    expect(values(args, '-accel')).toEqual(['tcg']);
    expect(values(args, '-smp')).toEqual(['1']);
    expect(values(args, '-m')).toEqual(['1792M']);
    expect(values(args, '-append')).toEqual(['console=ttyS0 panic=-1 memmap=512M!1024M']);
    expect(values(args, '-fsdev')).toEqual([
      'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
      'local,id=scratch,path=/s/scratch,security_model=none',
    ]);
    expect(values(args, '-serial')).toEqual(['file:/s/console.log']);
    expect(args).toContain('-no-reboot');
    expect(values(args, '-numa')).toEqual([]);
  });

  it('two regions and extra kernel arguments', () => {
    const args = qemuArgs(files, {
      pmem: [{ offset: 1 * GiB, size: 256 * MiB }, { offset: 1536 * MiB, size: 256 * MiB }],
      kernelArgs: ['loglevel=4'],
    });
    expect(values(args, '-append')).toEqual(['console=ttyS0 panic=-1 memmap=256M!1024M memmap=256M!1536M loglevel=4']);
    expect(values(args, '-m')).toEqual(['2048M']);
  });

  it('shared memory: three NUMA nodes, the middle one the file (shared) exactly under memmap=', () => {
    const shm = path.join(tmp.make(), 'shm,with comma');
    fs.writeFileSync(shm, '');
    fs.truncateSync(shm, 512 * MiB);
    const args = qemuArgs(files, { sharedMemory: shm, pmem: [{ offset: 1 * GiB, size: 512 * MiB }] });
    expect(values(args, '-m')).toEqual(['1792M']);
    expect(values(args, '-object')).toEqual([
      'memory-backend-ram,id=m0,size=1024M',
      `memory-backend-file,id=m1,size=512M,mem-path=${shm.replace(',', ',,')},share=on`,
      'memory-backend-ram,id=m2,size=256M',
    ]);
    expect(values(args, '-numa')).toEqual(['node,nodeid=0,memdev=m0', 'node,nodeid=1,memdev=m1', 'node,nodeid=2,memdev=m2']);
    expect(values(args, '-append')).toEqual(['console=ttyS0 panic=-1 memmap=512M!1024M']);

    fs.truncateSync(shm, 256 * MiB);
    expect(() => qemuArgs(files, { sharedMemory: shm, pmem: [{ offset: 1 * GiB, size: 512 * MiB }] })).toThrow(/shared memory file is/);
    expect(() => qemuArgs(files, { sharedMemory: shm, pmem: [] })).toThrow(/1 shared memory files for 0 pmem regions/);
  });

  it('two shared regions: RAM, file, RAM between, file, RAM above — each file exactly under its memmap=', () => {
    const d = tmp.make();
    const [a, b] = ['a', 'b'].map((n) => {
      const f = path.join(d, n);
      fs.writeFileSync(f, '');
      fs.truncateSync(f, 256 * MiB);
      return f;
    });
    // regions given out of order: the files follow offset order
    const pmem = [{ offset: 1536 * MiB, size: 256 * MiB }, { offset: 1 * GiB, size: 256 * MiB }];
    const args = qemuArgs(files, { sharedMemory: [a!, b!], pmem });
    expect(values(args, '-m')).toEqual(['2048M']);
    expect(values(args, '-object')).toEqual([
      'memory-backend-ram,id=m0,size=1024M',
      `memory-backend-file,id=m1,size=256M,mem-path=${a},share=on`,
      'memory-backend-ram,id=m2,size=256M',
      `memory-backend-file,id=m3,size=256M,mem-path=${b},share=on`,
      'memory-backend-ram,id=m4,size=256M',
    ]);
    expect(values(args, '-numa')).toHaveLength(5);
    // the node sizes add up to -m
    expect(values(args, '-object').reduce((n, o) => n + Number(/size=(\d+)M/.exec(o)![1]), 0)).toBe(2048);
    expect(() => qemuArgs(files, { sharedMemory: [a!], pmem })).toThrow(/1 shared memory files for 2 pmem regions/);
  });
});

describe('isStaticElf', () => {
  const tmp = tmpDirs('famfs-vm-elf-');

  /** An ELF64 little-endian header (by hand) with the given program header types. */
  function elf(types: number[]): Uint8Array {
    const b = Buffer.alloc(64 + 56 * types.length);
    b.writeUInt32BE(0x7f454c46, 0); // \x7fELF
    b[4] = 2; // ELFCLASS64
    b[5] = 1; // little-endian
    b.writeBigUInt64LE(64n, 32); // e_phoff
    b.writeUInt16LE(56, 54); // e_phentsize
    b.writeUInt16LE(types.length, 56); // e_phnum
    types.forEach((t, i) => b.writeUInt32LE(t, 64 + 56 * i));
    return b;
  }

  it('no PT_INTERP is static, a PT_INTERP anywhere is dynamic, a non-ELF or missing file is neither', () => {
    const d = tmp.make();
    const put = (name: string, bytes: Uint8Array | string): string => {
      fs.writeFileSync(path.join(d, name), bytes);
      return path.join(d, name);
    };
    expect(isStaticElf(put('static', elf([1, 1, 4])))).toBe(true); // PT_LOAD, PT_LOAD, PT_NOTE
    expect(isStaticElf(put('dynamic', elf([6, 3, 1])))).toBe(false); // PT_PHDR, PT_INTERP, PT_LOAD
    expect(isStaticElf(put('script', '#!/bin/sh\necho hi\n'.padEnd(80, ' ')))).toBe(false);
    expect(isStaticElf(path.join(d, 'missing'))).toBe(false);
    const truncated = elf([1]).subarray(0, 70);
    expect(isStaticElf(put('truncated', truncated))).toBe(false);
  });

  it('the real thing: the node binary running these tests is dynamically linked', () => {
    expect(isStaticElf(process.execPath)).toBe(false);
  });
});
