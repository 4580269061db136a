#!/usr/bin/env node
/**
 * The famfs mount daemon, started by `famfs mount` with the MountRequest as
 * JSON in argv[2] and a status pipe on fd 3 ('ready' or 'error …').
 */
import * as fs from 'node:fs';
import type { MountRequest } from '../daemon.js';
import { runDaemon } from '../server.js';

function report(line: string): void {
  try {
    fs.writeSync(3, `${line}\n`);
    fs.closeSync(3);
  } catch {
    // nobody is waiting any more (the status pipe is gone): the log has it
  }
  process.stderr.write(`${new Date().toISOString()} status ${line}\n`);
}

const req = JSON.parse(process.argv[2] ?? '{}') as MountRequest;
process.exitCode = await runDaemon(req, report);
