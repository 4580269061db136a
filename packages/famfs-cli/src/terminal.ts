/**
 * Names printed as text escape what could drive a terminal or break a line
 * (as `ls -b` does): backslash, C escapes for the usual control characters,
 * octal for the other C0 and C1 controls and DEL. Printable text, UTF-8
 * included, passes unchanged; `--json` output never goes through here.
 */
const NAMED: Readonly<Record<number, string>> = { 0x07: '\\a', 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0b: '\\v', 0x0c: '\\f', 0x0d: '\\r', 0x5c: '\\\\' };

export function escapeName(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    const named = NAMED[c];
    if (named !== undefined) out += named;
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) {
      // octal of the UTF-8 bytes, as ls -b prints them
      for (const byte of Buffer.from(ch)) out += `\\${byte.toString(8).padStart(3, '0')}`;
    } else out += ch;
  }
  return out;
}
