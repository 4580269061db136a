/**
 * bash completion for famfs and mkfs.famfs, written from the commander
 * definitions: subcommand names, each command's options, and which options
 * take a value (completed with file names when the value is a path, with
 * its choices when it has some, else not at all). Arguments complete as
 * file names.
 */
import { type Command, Help } from 'commander';

/** Single-quote for bash. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

interface OptionSets {
  /** every flag: -r --recursive … */
  all: string[];
  /** flags whose value is a path (complete file names) */
  path: string[];
  /** flags with a value of another kind (nothing to complete) */
  value: string[];
  /** flags with fixed choices */
  choices: Array<{ flags: string[]; words: string[] }>;
}

const PATHLIKE = /path|file|dir|device|shadow|image/i;

function optionSets(cmd: Command): OptionSets {
  const sets: OptionSets = { all: [], path: [], value: [], choices: [] };
  for (const o of new Help().visibleOptions(cmd)) {
    const flags = [o.short, o.long].filter((f): f is string => f !== undefined);
    sets.all.push(...flags);
    if (!o.required && !o.optional) continue;
    if (o.argChoices !== undefined) sets.choices.push({ flags, words: o.argChoices });
    else if (PATHLIKE.test(o.flags.replace(/^[^<[]*/, ''))) sets.path.push(...flags);
    else sets.value.push(...flags);
  }
  return sets;
}

/** The body that completes one command's options and arguments (cur/prev are set). */
function completeCommand(cmd: Command, indent: string): string[] {
  const s = optionSets(cmd);
  const lines: string[] = [`${indent}case $prev in`];
  if (s.path.length > 0) lines.push(`${indent}  ${s.path.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`);
  for (const c of s.choices) lines.push(`${indent}  ${c.flags.join('|')}) COMPREPLY=($(compgen -W ${q(c.words.join(' '))} -- "$cur")); return ;;`);
  if (s.value.length > 0) lines.push(`${indent}  ${s.value.join('|')}) COMPREPLY=(); return ;;`);
  lines.push(`${indent}esac`);
  lines.push(`${indent}if [[ $cur == -* ]]; then`);
  lines.push(`${indent}  COMPREPLY=($(compgen -W ${q(s.all.join(' '))} -- "$cur"))`);
  lines.push(`${indent}else`);
  lines.push(`${indent}  COMPREPLY=($(compgen -f -- "$cur"))`);
  lines.push(`${indent}fi`);
  return lines;
}

/**
 * The completion script: `_famfs` for famfs (global options, then a
 * subcommand, then that subcommand's options), `_mkfs_famfs` for mkfs.famfs.
 */
export function bashCompletion(famfs: Command, mkfs: Command, version: string): string {
  const subs = famfs.commands.map((c) => c.name());
  const global = optionSets(famfs);
  const out: string[] = [
    `# bash completion for famfs and mkfs.famfs (famfs-ts ${version})`,
    '# generated from the command definitions; do not edit',
    '',
    '_famfs() {',
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=',
    '  [[ $COMP_CWORD -gt 0 ]] && prev=${COMP_WORDS[COMP_CWORD-1]}',
    '  COMPREPLY=()',
    '  # the subcommand: the first word that is neither a global option nor its value',
    '  local i=1 cmd=',
    '  while [[ $i -lt $COMP_CWORD ]]; do',
    '    case ${COMP_WORDS[i]} in',
    ...(global.path.length + global.value.length > 0 ? [`      ${[...global.path, ...global.value].join('|')}) i=$((i + 2)) ;;`] : []),
    '      -*) i=$((i + 1)) ;;',
    '      *) cmd=${COMP_WORDS[i]}; break ;;',
    '    esac',
    '  done',
    '  if [[ -z $cmd ]]; then',
    '    case $prev in',
    ...(global.path.length > 0 ? [`      ${global.path.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`] : []),
    ...(global.value.length > 0 ? [`      ${global.value.join('|')}) return ;;`] : []),
    '    esac',
    '    if [[ $cur == -* ]]; then',
    `      COMPREPLY=($(compgen -W ${q(global.all.join(' '))} -- "$cur"))`,
    '    else',
    `      COMPREPLY=($(compgen -W ${q([...subs, 'help'].join(' '))} -- "$cur"))`,
    '    fi',
    '    return',
    '  fi',
    '  case $cmd in',
  ];
  for (const sub of famfs.commands) {
    out.push(`    ${sub.name()})`, ...completeCommand(sub, '      '), '      ;;');
  }
  out.push(`    help) COMPREPLY=($(compgen -W ${q(subs.join(' '))} -- "$cur")) ;;`);
  out.push('  esac', '}', 'complete -o filenames -F _famfs famfs', '');
  out.push(
    '_mkfs_famfs() {',
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=',
    '  [[ $COMP_CWORD -gt 0 ]] && prev=${COMP_WORDS[COMP_CWORD-1]}',
    '  COMPREPLY=()',
    ...completeCommand(mkfs, '  '),
    '}',
    'complete -o filenames -F _mkfs_famfs mkfs.famfs',
    '',
  );
  return out.join('\n');
}
