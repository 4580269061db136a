/**
 * vitest globalSetup: the whole run must leave the machine as it found it.
 * Checked here for what a forgotten test setting would change outside any
 * temporary directory: the host identity file (/opt/famfs/system_uuid, which
 * the CLI creates when no FAMFS_SYSTEM_UUID is given), the default daxdev map
 * directory (/var/lib/famfs) and the fuse module's enable_uring parameter.
 * A difference fails the run with one line naming it.
 */
import * as fs from 'node:fs';

const WATCHED_PATHS = ['/opt/famfs', '/var/lib/famfs'];
const URING = '/sys/module/fuse/parameters/enable_uring';

function uring(): string | undefined {
  try {
    return fs.readFileSync(URING, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export default function setup(): () => void {
  const existed = new Map(WATCHED_PATHS.map((p) => [p, fs.existsSync(p)]));
  const uringBefore = uring();
  return () => {
    const changed: string[] = [];
    for (const [p, was] of existed) if (!was && fs.existsSync(p)) changed.push(`${p} was created`);
    const uringAfter = uring();
    if (uringAfter !== uringBefore) changed.push(`${URING} went from ${uringBefore} to ${uringAfter}`);
    if (changed.length > 0) {
      // a teardown that throws is only logged by vitest: set the exit status too
      process.stderr.write(`\nthe test run changed the machine: ${changed.join('; ')}\n`);
      process.exitCode = 1;
    }
  };
}
