#!/usr/bin/env node
// npm "install" hook: builds the native CPU backend (native/ + binding.gyp, node-gyp against OpenBLAS).
// It never fails the install: without a compiler, make, python3 or OpenBLAS the package still works on
// the TypeScript reference backend, and this prints one line saying why and how to get the fast one.
// LORAROUTE_SKIP_NATIVE=1 skips the build. The full build output goes to build/native-build.log.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'loraroute_native.node');
const logFile = join(root, 'build', 'native-build.log');
const HOW = 'install g++, make, python3 and libopenblas-dev (Debian/Ubuntu: apt-get install -y g++ make python3 libopenblas-dev), then run `npm rebuild loraroute`';

function say(msg) {
  console.log(`loraroute: ${msg}`);
}

/** node-gyp: the one npm runs scripts with, else the one bundled with npm next to this node, else a dependency. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package: fine
  }
  return candidates.find((p) => p && existsSync(p)) ?? null;
}

/** Node's own headers when they are on disk (so node-gyp needs no download); null lets node-gyp decide. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

/** The most likely reason a build failed, from its output. */
function reason(out) {
  if (/cblas\.h: No such file|cannot find -lopenblas|lopenblas: No such file/.test(out)) return 'OpenBLAS not found';
  if (/(gcc|g\+\+|cc|c\+\+|make): (command )?not found|not found: (make|gcc|cc)|(cc|gcc|make): No such file or directory|spawn make ENOENT|No such file or directory: '[^']*(cc|gcc|g\+\+|clang)'/.test(out)) {
    return 'no C compiler or make';
  }
  if (/gyp ERR! find Python|Could not find any Python/.test(out)) return 'node-gyp found no python3';
  if (/\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT)\b|getaddrinfo|network connectivity/.test(out)) return "node-gyp could not fetch Node's headers";
  return 'the build failed';
}

function writeLog(text) {
  try {
    mkdirSync(dirname(logFile), { recursive: true });
    writeFileSync(logFile, text);
    return logFile;
  } catch {
    return null;
  }
}

function main() {
  if (process.env.LORAROUTE_SKIP_NATIVE === '1') {
    say('LORAROUTE_SKIP_NATIVE=1: native backend not built; the slower TypeScript backend will be used');
    return;
  }
  const gyp = findNodeGyp();
  if (!gyp) {
    say(`native backend not built (node-gyp not found); using the slower TypeScript backend. To build it, ${HOW}`);
    return;
  }
  const dir = nodeDir();
  const args = [gyp, 'rebuild', ...(dir ? [`--nodedir=${dir}`] : [])];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 32 << 20 });
  const out = `$ node ${args.join(' ')}\n${r.stdout ?? ''}\n${r.stderr ?? ''}\n${r.error ? String(r.error) : ''}`;
  const log = writeLog(out);
  if (r.status !== 0 || !existsSync(addon)) {
    say(`native backend not built (${reason(out)}${log ? `; log: ${log}` : ''}); using the slower TypeScript backend. To build it, ${HOW}`);
    return;
  }
  // built: does it load here (libopenblas.so present at run time, same Node ABI)?
  const probe = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(addon)}); console.log(JSON.stringify(a.info()))`], {
    encoding: 'utf8', timeout: 60_000,
  });
  if (probe.status !== 0) {
    say(`native backend built but it does not load (${(probe.stderr || '').trim().split('\n')[0]}); using the slower TypeScript backend`);
    return;
  }
  let info = {};
  try {
    info = JSON.parse(probe.stdout);
  } catch {
    // keep the plain message
  }
  say(`native CPU backend built (${info.blasCore ? `OpenBLAS ${info.blasCore}, ` : ''}${info.isa ?? 'native'} kernels)`);
}

try {
  main();
} catch (e) {
  say(`native backend not built (${e instanceof Error ? e.message : String(e)}); using the slower TypeScript backend`);
}
process.exitCode = 0;
