/**
 * The fuse module's enable_uring is one switch for the whole machine, and
 * test files run in parallel processes: a test that needs FUSE-over-io_uring
 * holds this lock (an flock on the parameter's own sysfs file, so no lock
 * file is left behind; released by the kernel if the process dies) from the
 * moment it turns the switch on until it has put it back as it found it.
 * Without it, one file's restore turns io_uring off under another file's
 * mount.
 */
import * as fs from 'node:fs';
import { flock, setUringParameter, uringParameter } from '@famfs/native';

const LOCK = '/sys/module/fuse/parameters/enable_uring';
/** Long enough for another file's 60 s load test on io_uring, and its set-up. */
const WAIT_MS = 10 * 60_000;

/**
 * Wait for the lock, turn enable_uring on, and return the release: it puts
 * the parameter back to what it was and lets go of the lock (also run at
 * process exit, should the test end early).
 */
export async function holdEnableUring(): Promise<() => void> {
  const fd = fs.openSync(LOCK, fs.constants.O_RDONLY);
  const until = Date.now() + WAIT_MS;
  while (!flock(fd, 'ex', { nonblock: true })) {
    if (Date.now() > until) {
      fs.closeSync(fd);
      throw new Error(`${LOCK}: another test held the enable_uring lock for ${WAIT_MS / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let before: boolean | undefined;
  try {
    before = uringParameter();
    setUringParameter(true);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      if (before !== undefined) setUringParameter(before);
    } finally {
      fs.closeSync(fd); // and with it the lock
    }
  };
  process.once('exit', release);
  return release;
}
