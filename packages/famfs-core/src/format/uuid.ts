import { randomUUID } from 'node:crypto';

/**
 * UUIDs are stored as 16 raw bytes in the order of their canonical text form,
 * as libuuid's uuid_parse produces them (no mixed-endian GUID swapping).
 */

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function uuidToBytes(s: string): Uint8Array {
  if (!isUuid(s)) throw new TypeError(`not a UUID: '${s}'`);
  const hex = s.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function uuidFromBytes(b: Uint8Array): string {
  if (b.length !== 16) throw new TypeError(`a UUID is 16 bytes, got ${b.length}`);
  let h = '';
  for (const x of b) h += x.toString(16).padStart(2, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export function newUuid(): string {
  return randomUUID();
}
