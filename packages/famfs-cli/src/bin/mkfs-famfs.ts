#!/usr/bin/env node
import { processIo } from '../io.js';
import { runMkfsFamfs } from '../program.js';

process.exitCode = await runMkfsFamfs(process.argv.slice(2), processIo());
