#!/usr/bin/env node
import { exitOnFatalErrors, run } from '../dist/src/cli/main.js';

// Exit status: 0 done, 1 internal error (printed with its stack), 2 user error (bad option, input or file); see src/cli/main.ts.
exitOnFatalErrors();
const status = await run(process.argv);
if (status !== 0) process.exit(status);
