// Benchmark support: serve a famfs image on a mount point the way the famfs
// daemon does (Famfs + FamfsFuseFs + Session, cache=auto), through one of
//   js     today's path: the event loop reads /dev/fuse (devFuseTransport)
//   clone  the native queues on cloned /dev/fuse channels
//   uring  the native queues on FUSE-over-io_uring (enable_uring must be Y)
// so that bench/queues.mjs compares transports and nothing else.
//
//   node bench/queues-server.mjs MODE IMAGE MOUNTPOINT
//
// Prints "ready <channel>" once the mount answers; on SIGTERM/SIGINT
// unmounts (lazily), stops serving, prints the queue counters to stderr
// and exits 0. Knobs: QUEUES_DEPTH, QUEUES_CLONES, QUEUES_PIN=0.
import * as fs from 'node:fs';
import { Famfs } from '../packages/famfs-core/dist/index.js';
import { FamfsFuseFs } from '../packages/famfs-fuse/dist/filesystem.js';
import { Logger } from '../packages/famfs-fuse/dist/log.js';
import { mountFuse, unmount } from '../packages/famfs-fuse/dist/mounts.js';
import { QueueTransport, runTablePublisher } from '../packages/famfs-fuse/dist/native-queues.js';
import { Session } from '../packages/famfs-fuse/dist/session.js';
import { devFuseTransport } from '../packages/famfs-fuse/dist/transport.js';

const [mode, image, mountpoint] = process.argv.slice(2);
if (!['js', 'clone', 'uring'].includes(mode) || !image || !mountpoint) {
  console.error('usage: queues-server.mjs js|clone|uring IMAGE MOUNTPOINT');
  process.exit(2);
}
const MAX_IO = 1024 * 1024;
const log = new Logger('warn');
const famfs = Famfs.open(image, { writable: true, systemUuid: process.env.FAMFS_SYSTEM_UUID });
const fd = fs.openSync('/dev/fuse', 'r+');
mountFuse(image, mountpoint, fd, MAX_IO);
const fuseFs = new FamfsFuseFs(famfs, { cache: 'auto' });
let transport;
let handles;
if (mode === 'js') {
  transport = devFuseTransport(fd);
} else {
  transport = new QueueTransport({
    fd,
    uring: mode === 'uring',
    maxWrite: MAX_IO,
    queueDepth: process.env.QUEUES_DEPTH ? Number(process.env.QUEUES_DEPTH) : undefined,
    clones: process.env.QUEUES_CLONES ? Number(process.env.QUEUES_CLONES) : undefined,
    pinQueues: process.env.QUEUES_PIN !== '0',
  });
  transport.queues.addDevice(0, { path: image, writable: famfs.dev.writable, invalidateOnRead: famfs.dev.kind === 'dax' });
  handles = runTablePublisher(transport.queues, fuseFs, log);
}
const session = new Session(transport, fuseFs, {
  profile: 'kernel-v10',
  maxWrite: MAX_IO,
  daxdevs: [{ index: 0, path: image, uuid: famfs.sb.devUuid, size: famfs.dev.size }],
  log,
  handles,
});
const serving = session.run();

let ending = false;
function end() {
  if (ending) return;
  ending = true;
  try {
    unmount(mountpoint, true);
  } catch {
    // gone already
  }
  if (mode !== 'js') console.error(JSON.stringify({ info: transport.info(), stats: transport.stats() }));
  transport.close();
}
process.on('SIGTERM', end);
process.on('SIGINT', end);

await fs.promises.stat(mountpoint);
let channel = 'js';
if (mode !== 'js') {
  for (let i = 0; i < 500 && ['init', 'uring-starting'].includes(transport.info().channel); i++) await new Promise((r) => setTimeout(r, 10));
  channel = transport.info().channel;
}
console.log(`ready ${channel}`);
await serving.catch((e) => console.error(`serving failed: ${e.message}`));
famfs.close();
process.exit(0);
