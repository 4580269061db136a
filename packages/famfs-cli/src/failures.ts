import { type FamfsError, fromSystemError } from '@famfs/core';

/**
 * A failure of one item in a command that goes on to the next (creat
 * --multi, flush, verify -m, cp -r): returned as a FamfsError to count and
 * report. A bug (kind 'internal') is rethrown: it must stop the command, not
 * be counted as one bad file.
 */
export function itemFailure(e: unknown, op: string, path?: string): FamfsError {
  const err = fromSystemError(e, op, path);
  if (err.kind === 'internal') throw err;
  return err;
}
