#!/usr/bin/env node
import { processIo } from '../io.js';
import { runMountFamfs } from '../mount-helper.js';

process.exitCode = await runMountFamfs(process.argv.slice(2), processIo());
