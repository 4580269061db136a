#!/usr/bin/env node
import { processIo } from '../io.js';
import { runFamfs } from '../program.js';

process.exitCode = await runFamfs(process.argv.slice(2), processIo());
