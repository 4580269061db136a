/**
 * The bytes layer of the FUSE server: constants, cursor primitives, request
 * decoders, reply encoders, INIT negotiation and the famfs messages. Nothing
 * here knows about files or inodes; nothing above it touches raw offsets.
 */
export * from './constants.js';
export * from './cursor.js';
export * from './requests.js';
export * from './replies.js';
export * from './init.js';
export * from './famfs.js';
export * from './iomap.js';
