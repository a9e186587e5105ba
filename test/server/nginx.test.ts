import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nginxConfig } from '../../src/server/nginx-conf.js';
import { tempDir } from '../helpers/micro.js';
import { writeFixtureRun } from './fixture.js';
import { clientChecks, client } from './helpers.js';
import { freePort, spawnServe, type ServeProcess } from './process.js';
import type OpenAI from 'openai';

/** Debian's nginx (apt-get install nginx); the test skips without it. */
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);
const skip = NGINX ? false : 'no nginx (apt-get install -y nginx)';
if (skip) console.log(`# nginx test skipped: ${skip}`);

const tmp = tempDir('loraroute-nginx-');
after(() => tmp.cleanup());

async function waitFor(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`${url} did not answer in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('two replicas behind nginx on 127.0.0.1: the client checks pass through it, streaming passes through', { skip }, async () => {
  const run = writeFixtureRun(tmp.dir);
  const replicas: ServeProcess[] = [];
  let nginx: ReturnType<typeof spawn> | null = null;
  try {
    for (let i = 0; i < 2; i++) replicas.push(await spawnServe(['--model-dir', run.modelDir]));
    const port = await freePort();
    const conf = join(tmp.dir, 'nginx.conf');
    writeFileSync(conf, nginxConfig({
      listen: `127.0.0.1:${port}`, upstreams: replicas.map((r) => new URL(r.url).host), prefix: tmp.dir,
      user: process.getuid?.() === 0 ? 'root' : undefined,
    }));
    let log = '';
    nginx = spawn(NGINX as string, ['-p', tmp.dir, '-e', join(tmp.dir, 'error.log'), '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(url + '/health', 15_000).catch((e: Error) => { throw new Error(`${e.message}\nnginx: ${log}`); });

    await clientChecks(url);

    // both replicas take requests
    const upstreams = new Set<string>();
    for (let i = 0; i < 8; i++) upstreams.add((await fetch(url + '/v1/models')).headers.get('x-upstream') ?? '');
    assert.deepEqual([...upstreams].sort(), replicas.map((r) => new URL(r.url).host).sort());

    // streaming is passed through as it comes: the first event arrives long before the last
    const c = client(url);
    const t0 = performance.now();
    const stream = await c.completions.create({ model: 'base', prompt: 'Tell me a story.', max_tokens: 300, ignore_eos: true, stream: true } as unknown as OpenAI.CompletionCreateParamsStreaming);
    let first = 0;
    let n = 0;
    for await (const ch of stream) {
      if (n++ === 1) first = performance.now() - t0; // the second event: the first generated text
      void ch;
    }
    const total = performance.now() - t0;
    assert.ok(first < total / 2, `first text after ${first.toFixed(0)} ms of ${total.toFixed(0)} ms: not buffered`);
  } finally {
    nginx?.kill('SIGTERM');
    for (const r of replicas) r.child.kill('SIGTERM');
    for (const r of replicas) assert.equal(await r.exited, 0, 'replica exits 0 on SIGTERM');
  }
});
