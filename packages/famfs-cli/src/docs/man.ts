/**
 * Man pages in roff (the man(7) macros), written from the commander
 * definitions: NAME and DESCRIPTION from the command's description, SYNOPSIS
 * from its usage, ARGUMENTS and OPTIONS from its arguments and options (what
 * --help prints), then the page's own sections and SEE ALSO.
 */
import { type Argument, type Command, Help, type Option } from 'commander';
import type { ManPage, Paragraph } from './pages.js';

/** Text for roff: backslashes and hyphens escaped, no line starting with a control character. */
export function roffText(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

/** `code` spans in bold, the rest as text. */
function inline(s: string): string {
  return s
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith('`') && part.endsWith('`') && part.length > 1 ? `\\fB${roffText(part.slice(1, -1))}\\fR` : roffText(part)))
    .join('');
}

/** `-o, --options <opts>` → bold flags, italic argument. */
function optionTerm(o: Option): string {
  const m = /^(.*?)(?:\s+([<[].*))?$/.exec(o.flags.trim());
  const flags = (m?.[1] ?? o.flags).split(/[ ,|]+/).filter((f) => f !== '').map((f) => `\\fB${roffText(f)}\\fR`).join(', ');
  const arg = m?.[2];
  return arg === undefined ? flags : `${flags} \\fI${roffText(arg)}\\fR`;
}

function argumentTerm(a: Argument): string {
  const name = `${a.name()}${a.variadic ? '...' : ''}`;
  return a.required ? `\\fI${roffText(name)}\\fR` : `[\\fI${roffText(name)}\\fR]`;
}

function paragraph(p: Paragraph): string[] {
  if (typeof p === 'string') return ['.PP', inline(p)];
  return ['.PP', '.nf', '.RS 4', ...p.pre.map(roffText), '.RE', '.fi'];
}

/** For NAME: the command's summary when it has one, else its description's first line. */
function summary(cmd: Command): string {
  const s = cmd.summary() !== '' ? cmd.summary() : (cmd.description().split('\n')[0] ?? '');
  return s.replace(/\.$/, '');
}

/** The options --help would list (the implicit --help too). */
function visibleOptions(help: Help, cmd: Command): Option[] {
  return help.visibleOptions(cmd);
}

/** A man page for `page.command`. */
export function renderManPage(page: ManPage, version: string): string {
  const help = new Help();
  const cmd = page.command;
  const out: string[] = [];
  const title = page.name.toUpperCase();
  out.push(`.\\" ${page.name}(${page.section}): generated from the famfs-ts command definitions; do not edit`);
  out.push(`.TH "${roffText(title)}" ${page.section} "" "famfs-ts ${roffText(version)}" "famfs"`);
  out.push('.SH NAME', `${roffText(page.name)} \\- ${inline(summary(cmd))}`);

  out.push('.SH SYNOPSIS', '.nh', '.ad l');
  const args = cmd.registeredArguments.map(argumentTerm).join(' ');
  const hasOptions = visibleOptions(help, cmd).length > 0;
  if (page.parent !== undefined) {
    out.push(`\\fB${roffText(page.parent.name())}\\fR [\\fIglobal options\\fR] \\fB${roffText(cmd.name())}\\fR${hasOptions ? ' [\\fIoptions\\fR]' : ''}${args === '' ? '' : ` ${args}`}`);
  } else if (cmd.commands.length > 0) {
    out.push(`\\fB${roffText(cmd.name())}\\fR [\\fIoptions\\fR] \\fIcommand\\fR [\\fIcommand options\\fR] [\\fIarguments\\fR]`);
  } else {
    out.push(`\\fB${roffText(cmd.name())}\\fR${hasOptions ? ' [\\fIoptions\\fR]' : ''}${args === '' ? '' : ` ${args}`}`);
  }
  out.push('.ad', '.hy');

  out.push('.SH DESCRIPTION', inline(cmd.description()));
  for (const p of page.intro ?? []) out.push(...paragraph(p));
  if (page.parent !== undefined) {
    out.push('.PP', inline(`This is \`${page.parent.name()} ${cmd.name()}\`; \`${page.parent.name()} ${cmd.name()} --help\` prints the same options.`));
  }

  const described = cmd.registeredArguments.filter((a) => a.description !== '');
  if (described.length > 0) {
    out.push('.SH ARGUMENTS');
    for (const a of described) out.push('.TP', argumentTerm(a), inline(help.argumentDescription(a)));
  }

  out.push('.SH OPTIONS');
  for (const o of visibleOptions(help, cmd)) out.push('.TP', optionTerm(o), inline(help.optionDescription(o)));

  if (page.parent !== undefined) {
    out.push('.SH GLOBAL OPTIONS', inline(`Given before the command name, as \`${page.parent.name()} -D IMAGE ${cmd.name()} …\`:`));
    for (const o of visibleOptions(help, page.parent).filter((o) => o.long !== '--help' && o.long !== '--version')) {
      out.push('.TP', optionTerm(o), inline(help.optionDescription(o)));
    }
  }

  if (cmd.commands.length > 0) {
    out.push('.SH COMMANDS');
    for (const sub of cmd.commands) {
      out.push('.TP', `\\fB${roffText(sub.name())}\\fR ${sub.registeredArguments.map(argumentTerm).join(' ')}`.trimEnd());
      out.push(`${inline(sub.description().replace(/\.?$/, '.'))} See \\fB${roffText(`${cmd.name()}-${sub.name()}`)}\\fR(1).`);
    }
  }

  for (const s of page.sections) {
    out.push(`.SH ${roffText(s.title)}`);
    s.paragraphs.forEach((p, i) => out.push(...(i === 0 ? paragraph(p).slice(1) : paragraph(p))));
  }

  out.push('.SH SEE ALSO');
  out.push(
    page.seeAlso
      .map((ref) => {
        const m = /^(.*)\((\d)\)$/.exec(ref);
        return m ? `\\fB${roffText(m[1] ?? '')}\\fR(${m[2] ?? ''})` : roffText(ref);
      })
      .join(',\n'),
  );
  return `${out.join('\n')}\n`;
}

/** The file name of a page: famfs-cp.1, mkfs.famfs.8. */
export function manFileName(page: ManPage): string {
  return `${page.name}.${page.section}`;
}
