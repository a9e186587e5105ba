import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { fixture } from './helpers.js';

/** Debian's chromium (apt-get install chromium); the test skips without it. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Where the screenshot goes (a test artefact). */
const ARTIFACTS = process.env.LORAROUTE_TEST_ARTIFACTS ?? join('dist', 'test-artifacts');

const fx = fixture();
after(() => fx.cleanup());

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
if (skip) console.log(`# playground test skipped: ${skip}`);

test('playground: type a prompt, routing bars and the streamed answer appear; forcing an expert', { skip }, async () => {
  const s = await fx.serve();
  const profile = mkdtempSync(join(tmpdir(), 'loraroute-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1000, height: 900 } });
  const external: string[] = [];
  try {
    const page = ctx.pages()[0] ?? await ctx.newPage();
    page.on('request', (r) => { if (!r.url().startsWith(s.url)) external.push(r.url()); });
    await page.goto(s.url + '/');
    // (page code as strings: this project compiles without the DOM types)
    await page.waitForFunction("document.querySelectorAll('#model option').length >= 5");
    const options = await page.evaluate<string[]>("[...document.querySelectorAll('#model option')].map((o) => o.value)");
    assert.deepEqual(options.slice(0, 4), ['auto', 'simple', 'medium', 'complex']);

    await page.fill('#prompt', 'Explain why the sky is blue, and give two everyday examples of the same effect.');
    await page.click('#go');
    await page.waitForSelector('body[data-done="1"]', { timeout: 30_000 });
    const bars = await page.evaluate<Array<{ name: string; width: string; chosen: boolean }>>(
      "[...document.querySelectorAll('#bars .bar')].map((b) => ({ name: b.dataset.expert, width: b.querySelector('.fill').style.width, chosen: b.classList.contains('chosen') }))");
    assert.deepEqual(bars.map((b) => b.name), ['simple', 'medium', 'complex']);
    assert.ok(bars.every((b) => /%$/.test(b.width)), 'bar widths set');
    assert.equal(bars.filter((b) => b.chosen).length, 1, 'the chosen expert is marked');
    const answer = await page.textContent('#answer');
    assert.ok(answer && answer.length > 0, 'answer streamed in');
    assert.match(await page.textContent('#score') ?? '', /score 0\.\d{3}, tier [0-2]/);
    assert.match(await page.textContent('#features') ?? '', /words: \d+/);
    const chosen = bars.find((b) => b.chosen)?.name;
    assert.equal(await page.textContent('#expert'), `expert: ${chosen}`);

    // force an expert the router did not choose
    const forced = ['simple', 'medium', 'complex'].find((e) => e !== chosen) as string;
    await page.evaluate('delete document.body.dataset.done');
    await page.selectOption('#model', forced);
    await page.click('#go');
    await page.waitForSelector('body[data-done="1"]', { timeout: 30_000 });
    assert.equal(await page.textContent('#expert'), `expert: ${forced}`);
    assert.match(await page.textContent('#chosen') ?? '', new RegExp(`forced: ${forced}`));
    const marked = await page.evaluate<string[]>("[...document.querySelectorAll('#bars .bar.chosen')].map((b) => b.dataset.expert)");
    assert.deepEqual(marked, [forced], 'the forced expert is the one marked');
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'playground.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000, `screenshot saved at ${shot}`);
    assert.deepEqual(external, [], 'the page makes no request outside the server');
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
