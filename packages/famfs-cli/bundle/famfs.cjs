#!/usr/bin/env node
'use strict';
// `famfs`: the bundled CLI (bin/famfs runs this; see loader.cjs)
require('./loader.cjs').main('famfs');
