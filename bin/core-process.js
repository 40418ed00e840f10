#!/usr/bin/env node
// The installed command: the compiled CLI in dist/ (built by `npm install` through prepare).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);
