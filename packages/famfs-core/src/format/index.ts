export * from './codec.js';
export * from './constants.js';
export * from './crc32.js';
export * from './log.js';
export * from './math.js';
export * from './superblock.js';
export * from './uuid.js';
