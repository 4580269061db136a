/**
 * What `fn` throws, required to be an instance of `type` (FamfsError,
 * ProtocolError, EncodeError …): a test that expects a failure gets the
 * typed error to inspect, and fails clearly when nothing or something else
 * was thrown. No vitest in here, so any test file can use it.
 */
export function thrown<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof type) return e;
    throw new Error(`expected a ${type.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  throw new Error(`expected a ${type.name}, nothing was thrown`);
}
