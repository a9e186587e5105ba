import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir } from '../helpers/micro.js';
import { bundledModelDir } from '../../src/config/index.js';
import { writeFixtureRun } from './fixture.js';
import { spawnServe } from './process.js';
import { client } from './helpers.js';
import type OpenAI from 'openai';

const tmp = tempDir('loraroute-serve-cli-');
after(() => tmp.cleanup());

test('loraroute serve: SIGTERM lets a running stream finish, refuses new connections, exits 0', async () => {
  const run = writeFixtureRun(tmp.dir);
  const p = await spawnServe(['--model-dir', run.modelDir, '--adapter', `extra=${run.extraAdapter}`]);
  try {
    const c = client(p.url);
    const ids = (await c.models.list()).data.map((m) => m.id);
    assert.ok(ids.includes('extra') && ids.includes('one_lora'), ids.join(', '));
    const stream = await c.completions.create({ model: 'extra', prompt: 'Tell me a long story.', max_tokens: 120, ignore_eos: true, stream: true } as unknown as OpenAI.CompletionCreateParamsStreaming);
    let text = '';
    let finish: string | null = null;
    let signalled = false;
    for await (const ch of stream) {
      text += ch.choices[0]?.text ?? '';
      finish = ch.choices[0]?.finish_reason ?? finish;
      if (!signalled && text.length > 0) {
        signalled = true;
        p.child.kill('SIGTERM');
      }
    }
    assert.ok(signalled);
    assert.equal(finish, 'length', 'the running stream finished after SIGTERM');
    assert.equal(await p.exited, 0);
    await assert.rejects(fetch(p.url + '/health'), 'no longer listening');
    assert.match(p.output(), /SIGTERM: finishing running requests/);
  } finally {
    p.child.kill('SIGKILL');
  }
});

test('loraroute serve: a plain model (--model) serves base only; a bad folder is a clear error', async () => {
  const p = await spawnServe(['--model', bundledModelDir()]);
  try {
    const c = client(p.url);
    assert.deepEqual((await c.models.list()).data.map((m) => m.id), ['base']);
    const r = await c.completions.create({ model: 'base', prompt: 'The capital of France is', max_tokens: 4 });
    assert.equal(r.usage?.prompt_tokens, 5, 'a plain model sends the prompt as is');
    assert.equal((r as unknown as { routing: { probabilities: unknown } }).routing.probabilities, null);
  } finally {
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0);
  }
  await assert.rejects(spawnServe(['--model-dir', tmp.dir]), /not a trained loraroute folder/);
});
