export * from './protocol/index.js';
export { FamfsFuseFs, type Attr as FsAttr, type CacheMode } from './filesystem.js';
export { Session, primaryDaxdev, type SessionOptions, type DaxdevInfo } from './session.js';
export { devFuseTransport, seqpacketTransport, type Transport } from './transport.js';
export { Logger, type LogLevel } from './log.js';
export { mountFamfs, umountFamfs, cleanupDeadMount, type MountRequest } from './daemon.js';
export { controlRequest, startControlServer, type ControlRequest, type ControlResponse } from './control.js';
export { famfsMountOf, famfsMounts, daemonFiles, readMounts, FUSE_FSTYPE, type DaemonState } from './mounts.js';
export { runDaemon } from './server.js';
