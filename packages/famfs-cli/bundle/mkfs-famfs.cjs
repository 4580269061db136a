#!/usr/bin/env node
'use strict';
// `mkfs.famfs`: the bundled CLI (bin/mkfs.famfs runs this; see loader.cjs)
require('./loader.cjs').main('mkfs.famfs');
