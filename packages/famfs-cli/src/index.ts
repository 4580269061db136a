export { runFamfs, runMkfsFamfs } from './program.js';
export { bufferIo, processIo, type CliIo } from './io.js';
export { parseSize, parseMode, parseUint } from './sizes.js';
export { formatReport, reportJson, cFixed } from './report.js';
