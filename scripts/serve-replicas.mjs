#!/usr/bin/env node
// Starts N `loraroute serve` replicas on 127.0.0.1 and Debian's nginx in front of them (for trying the
// scale-out setup by hand; test/server/nginx.test.ts does the same in a test). Ctrl-C stops everything.
//   node scripts/serve-replicas.mjs --model-dir runs/demo/best_model [--replicas 2] [--port 8000] [--first-port 8081]
// Needs a build (npm run build) and nginx (apt-get install -y nginx).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { nginxConfig } = await import(join(root, 'dist/src/server/nginx-conf.js'));
const { values } = parseArgs({ options: {
  'model-dir': { type: 'string' }, model: { type: 'string' }, replicas: { type: 'string', default: '2' },
  port: { type: 'string', default: '8000' }, 'first-port': { type: 'string', default: '8081' }, nginx: { type: 'string', default: 'nginx' },
} });
const n = Number(values.replicas), first = Number(values['first-port']);
const source = values['model-dir'] ? ['--model-dir', values['model-dir']] : ['--model', values.model ?? join(root, 'models/tiny-gpt2')];
const children = [];
for (let i = 0; i < n; i++) {
  children.push(spawn(process.execPath, [join(root, 'bin/loraroute.js'), 'serve', ...source, '--port', String(first + i)], { stdio: 'inherit' }));
}
const prefix = mkdtempSync(join(tmpdir(), 'loraroute-nginx-'));
const conf = join(prefix, 'nginx.conf');
writeFileSync(conf, nginxConfig({
  listen: `127.0.0.1:${values.port}`, upstreams: children.map((_, i) => `127.0.0.1:${first + i}`), prefix,
  user: process.getuid?.() === 0 ? 'root' : undefined,
}));
children.push(spawn(values.nginx, ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf, '-g', 'daemon off;'], { stdio: 'inherit' }));
console.log(`serve-replicas: ${n} replicas behind http://127.0.0.1:${values.port} (nginx config: ${conf})`);
const stop = () => { for (const c of children) c.kill('SIGTERM'); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
