// Test support: serve a TestFs mount (native/src/fuse-queues-testfs.ts, built
// into dist/) from its own process, until SIGTERM or SIGINT. On the signal it
// does what a daemon does: detach the mount, stop the queues (joining their
// threads), close the session fd (the kernel then aborts the connection and
// pending callers get ENOTCONN), and exit 0.
//
//   node native/scripts/test-serve.mjs CHANNEL IMAGE MOUNTPOINT FILES_JSON
//
// Prints "mounted" once mount(2) returned, "stopped <reason>" at the end.
import { mountTestFs } from '../dist/fuse-queues-testfs.js';
import { setUringParameter, uringParameter } from '../dist/index.js';

const [channel, image, mountpoint, filesJson] = process.argv.slice(2);
if (!channel || !image || !mountpoint || !filesJson) {
  console.error('usage: test-serve.mjs CHANNEL IMAGE MOUNTPOINT FILES_JSON');
  process.exit(2);
}
let restoreUring;
if (channel === 'uring' && uringParameter() === false) restoreUring = setUringParameter(true);
const m = mountTestFs({ channel, image, mountpoint, files: JSON.parse(filesJson), publish: true });
console.log('mounted');

let ending = false;
async function end(sig) {
  if (ending) return;
  ending = true;
  const t0 = Date.now();
  const how = await m.close();
  if (restoreUring !== undefined) setUringParameter(restoreUring);
  console.log(`stopped ${how.reason} ${sig} ${Date.now() - t0}ms`);
  process.exit(0);
}
process.on('SIGTERM', () => void end('SIGTERM'));
process.on('SIGINT', () => void end('SIGINT'));
// The kernel can end it too (umount): then there is nothing left to serve.
void m.ended.then(() => end('unmounted'));
