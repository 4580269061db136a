export * from './protocol/index.js';
export { FamfsFuseFs, type Attr as FsAttr, type CacheMode } from './filesystem.js';
export { Session, famfsDaxdevs, famfsWindowDevices, primaryDaxdev, type SessionOptions, type DaxdevInfo, type HandleObserver } from './session.js';
export { devFuseTransport, seqpacketTransport, type Transport } from './transport.js';
export { QueueTransport, runTablePublisher, type QueueTransportOptions } from './native-queues.js';
export { Logger, type LogLevel } from './log.js';
export { mountFamfs, umountFamfs, cleanupDeadMount, type MountRequest } from './daemon.js';
export { controlRequest, startControlServer, type ControlRequest, type ControlResponse, type DaxdevEntry } from './control.js';
export {
  famfsMountAt, famfsMountOf, famfsMounts, famfsMountsOfDevice, isDeadMount, fileIdentity, readMounts, realPath, sameFile, FUSE_FSTYPE, type MountEntry,
} from './mounts.js';
export { daemonFiles, listDaemons, openRunDir, readState, runDir, type DaemonFiles, type DaemonState } from './run-dir.js';
export { runDaemon } from './server.js';
export { DaxWindow, WINDOW_UNIT, type DaxWindowOptions, type WindowDevice, type WindowEntry, type WindowOp, type WindowStats, type WindowUpdate } from './dax-window.js';
export { WindowChannel, VmmWindow, decodeWindowMessage, type WindowMessage } from './window-channel.js';
export type { IomapOptions } from './iomap.js';
