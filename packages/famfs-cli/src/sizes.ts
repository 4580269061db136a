import { usageError } from '@famfs/core';

/**
 * The text of an option value as commander parsed it (an option that takes
 * a value gives a string; a default may be a number). Anything else is a
 * usage error naming the option.
 */
export function text(v: unknown, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  throw usageError('parse', `option ${what} needs a value`);
}

/**
 * Parse a size the way upstream famfs does (strtoull with base 0, then an
 * optional k/m/g suffix, powers of 1024): "8m", "0x800000", "1G", "4096".
 * As with strtoull, a leading 0 means octal. Anything else is an error here
 * (upstream silently ignores some malformed suffixes).
 */
export function parseSize(text: string, what = 'size'): number {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgG]?)$/.exec(text.trim());
  if (!m) throw usageError('parse', `invalid ${what} '${text}' (expected a number with an optional k, m or g suffix)`, 'EINVAL');
  const digits = m[1]!;
  let n: bigint;
  if (/^0[xX]/.test(digits)) n = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) n = BigInt(`0o${digits.slice(1)}`);
  else n = BigInt(digits);
  const suffix = (m[2] ?? '').toLowerCase();
  const mult = suffix === 'k' ? 1n << 10n : suffix === 'm' ? 1n << 20n : suffix === 'g' ? 1n << 30n : 1n;
  const v = n * mult;
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw usageError('parse', `${what} '${text}' is too large`, 'ERANGE');
  return Number(v);
}

/** Parse a non-negative integer option (counts, ids, seeds); base-0 like strtoul. */
export function parseUint(text: string, what: string): number {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text.trim());
  if (!m) throw usageError('parse', `invalid ${what} '${text}'`, 'EINVAL');
  const d = m[1]!;
  const v = /^0[xX]/.test(d) ? BigInt(d) : d.length > 1 && d.startsWith('0') ? BigInt(`0o${d.slice(1)}`) : BigInt(d);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw usageError('parse', `${what} '${text}' is too large`, 'ERANGE');
  return Number(v);
}

/** Parse an octal mode ("0644", "644", "0o644"). */
export function parseMode(text: string): number {
  const m = /^(?:0[oO]?)?([0-7]{1,4})$/.exec(text.trim());
  if (!m) throw usageError('parse', `invalid mode '${text}' (expected octal, e.g. 0644)`, 'EINVAL');
  return parseInt(m[1]!, 8);
}
