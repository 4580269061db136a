/**
 * The generated man pages and bash completion: every command and option of
 * the commander definitions is in them, the pages render with man(1)
 * without warnings, `make build` wrote the current ones, and the completion
 * function, driven as bash drives it, completes subcommands and options.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { needs, onPathReq, tmpDirs } from '../../../../test/helpers.js';
import { bashCompletion, famfsTree, generatedDocs, manPages, mkfsTree, renderManPage, roffText } from './index.js';
import { mountHelperCommand } from '../mount-helper.js';

const PKG = fileURLToPath(new URL('../../', import.meta.url));
const tmp = tmpDirs('famfs-docs-');
const docs = generatedDocs();
const page = (file: string): string => {
  const d = docs.find((x) => x.file === file);
  if (d === undefined) throw new Error(`no generated ${file}`);
  return d.text;
};

describe('man pages', () => {
  it('one page for famfs, each subcommand, mkfs.famfs and mount.famfs', () => {
    const subs = famfsTree().commands.map((c) => c.name());
    expect(subs).toEqual(expect.arrayContaining(['mount', 'cp', 'creat', 'fsck', 'logplay', 'umount']));
    const files = docs.map((d) => d.file).filter((f) => f.startsWith('man/')).sort();
    expect(files).toEqual(['man/famfs.1', ...subs.map((s) => `man/famfs-${s}.1`), 'man/mkfs.famfs.8', 'man/mount.famfs.8'].sort());
  });

  it('every page has the usual sections, and every option and argument of its command', () => {
    const help = new Help();
    for (const p of manPages()) {
      const text = renderManPage(p, '9.9.9');
      for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'EXIT STATUS', 'SEE ALSO']) expect(text, `${p.name}: ${s}`).toMatch(new RegExp(`^\\.SH "?${s}"?$`, 'm'));
      expect(text).toMatch(new RegExp(`^\\.TH "${roffText(p.name.toUpperCase()).replace(/\\/g, '\\\\').replace(/\./g, '\\.')}" ${p.section} `, 'm'));
      for (const o of help.visibleOptions(p.command)) {
        for (const flag of [o.short, o.long].filter((f) => f !== undefined)) expect(text, `${p.name}: ${flag}`).toContain(`\\fB${roffText(flag)}\\fR`);
      }
      for (const a of p.command.registeredArguments) expect(text, `${p.name}: <${a.name()}>`).toContain(`\\fI${roffText(a.name())}`);
    }
  });

  it('a subcommand page names the global options and its own exit status', () => {
    const cp = page('man/famfs-cp.1');
    expect(cp).toContain('.SH GLOBAL OPTIONS');
    expect(cp).toContain('\\fB\\-\\-device\\fR \\fI<path>\\fR');
    expect(cp).toMatch(/^1: any failure\.$/m); // cp exits 1 on every failure, as upstream
    expect(page('man/famfs-ls.1')).toMatch(/errno number/); // ls exits with the errno
    expect(page('man/mkfs.famfs.8')).toMatch(/2: any other failure/);
    expect(page('man/mount.famfs.8')).toMatch(/32 mount failure/);
  });

  it('text cannot turn into roff requests', () => {
    expect(roffText('.TH x\n\'x\na\\b -c')).toBe('\\&.TH x\n\\&\'x\na\\eb \\-c');
  });

  it('`make build` wrote the current pages and completion into the package', () => {
    for (const d of docs) {
      const built = path.join(PKG, d.file);
      expect(fs.existsSync(built), `${built}: run \`make build\``).toBe(true);
      expect(fs.readFileSync(built, 'utf8'), `${built} is stale: run \`make build\``).toBe(d.text);
    }
  });

  describe.runIf(needs('rendering the man pages', [onPathReq('man')]))('rendered by man(1)', () => {
    it('every page renders without a warning', () => {
      const dir = tmp.make();
      for (const d of docs.filter((x) => x.file.startsWith('man/'))) {
        const file = path.join(dir, path.basename(d.file));
        fs.writeFileSync(file, d.text);
        const r = spawnSync('man', ['--warnings', '-l', file], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '100', MAN_KEEP_FORMATTING: '' } });
        expect(r.status, `${d.file}: ${r.stderr}`).toBe(0);
        expect(r.stderr, d.file).toBe('');
        const name = path.basename(d.file).replace(/\.[18]$/, '');
        expect(r.stdout, d.file).toMatch(new RegExp(`^NAME\\n\\s+${name.replace(/\./g, '\\.')}\\s+-\\s+\\S`, 'm'));
      }
    });
  });
});

/** Run the completion function as bash would for the words typed so far; COMPREPLY. */
function complete(script: string, words: string[]): string[] {
  const fn = words[0] === 'mkfs.famfs' ? '_mkfs_famfs' : '_famfs';
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `source "$1"; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', script], {
    encoding: 'utf8',
    cwd: path.dirname(script),
  });
  if (r.status !== 0) throw new Error(`bash: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

describe.runIf(needs('bash completion', [onPathReq('bash')]))('bash completion', () => {
  const dir = tmp.make('completion');
  const script = path.join(dir, 'famfs');
  fs.writeFileSync(script, bashCompletion(famfsTree(), mkfsTree(), '9.9.9'));
  fs.writeFileSync(path.join(dir, 'an-image.img'), '');

  it('registers _famfs for famfs and _mkfs_famfs for mkfs.famfs', () => {
    const r = spawnSync('bash', ['--norc', '-c', 'source "$1"; complete -p famfs mkfs.famfs', 'bash', script], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/-F _famfs famfs$/m);
    expect(r.stdout).toMatch(/-F _mkfs_famfs mkfs\.famfs$/m);
  });

  it('famfs <TAB>: every subcommand', () => {
    const got = complete(script, ['famfs', '']);
    expect(got).toEqual(expect.arrayContaining(famfsTree().commands.map((c) => c.name())));
    expect(got).toEqual(expect.arrayContaining(['creat', 'cp', 'fsck', 'mount', 'help']));
  });

  it('famfs c<TAB>, famfs -D IMG cr<TAB>, famfs help f<TAB>', () => {
    expect(complete(script, ['famfs', 'c']).sort()).toEqual(['cat', 'check', 'chkread', 'clone', 'cp', 'creat']);
    expect(complete(script, ['famfs', '-D', 'an-image.img', 'cr'])).toEqual(['creat']);
    expect(complete(script, ['famfs', '--system-uuid', 'x', 'fs'])).toEqual(['fsck']);
    expect(complete(script, ['famfs', 'help', 'f']).sort()).toEqual(['flush', 'fsck']);
  });

  it("famfs creat -<TAB>: creat's own options, not another command's", () => {
    const got = complete(script, ['famfs', 'creat', '-']);
    expect(got).toEqual(expect.arrayContaining(['-s', '--size', '-r', '--randomize', '-S', '--seed', '--help']));
    expect(got).not.toContain('--recursive'); // cp's
    expect(complete(script, ['famfs', 'fsck', '--h'])).toEqual(['--human', '--help']);
  });

  it('famfs -<TAB>: the global options; -D <TAB> and arguments: file names; a size: nothing', () => {
    expect(complete(script, ['famfs', '-'])).toEqual(expect.arrayContaining(['-D', '--device', '--system-uuid', '--version', '--help']));
    expect(complete(script, ['famfs', '-D', 'an-'])).toEqual(['an-image.img']);
    expect(complete(script, ['famfs', 'fsck', 'an-'])).toEqual(['an-image.img']);
    expect(complete(script, ['famfs', 'creat', '-s', ''])).toEqual([]);
  });

  it('mkfs.famfs --<TAB>, mkfs.famfs <TAB>', () => {
    expect(complete(script, ['mkfs.famfs', '--'])).toEqual(expect.arrayContaining(['--create-size', '--force', '--kill', '--loglen', '--version']));
    expect(complete(script, ['mkfs.famfs', '--create-size', '4g', 'an'])).toEqual(['an-image.img']);
  });

  it('mount.famfs has a man page but no completion (mount(8) runs it)', () => {
    expect(mountHelperCommand().name()).toBe('mount.famfs');
    expect(page('completion/famfs')).not.toContain('mount.famfs');
  });
});
