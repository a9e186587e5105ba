import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { BUNDLED, bundledModelDir, defaultConfig } from '../../src/config/index.js';
import { LoraAdapter } from '../../src/lora/adapter.js';
import { defaultLoraConfig } from '../../src/lora/config.js';
import { savePeftAdapter } from '../../src/lora/peft.js';
import { readGPT2Config, type GPT2Config } from '../../src/model/config.js';
import { makeRng } from '../../src/model/sampling.js';
import { Router } from '../../src/router/router.js';
import { ROUTER_FEATURE_NAMES } from '../../src/system/prepared.js';
import { saveSystem } from '../../src/system/saved.js';

// Every ```ts block of README.md is type-checked against the built package's declarations and run, as a
// user would run it: `import … from 'loraroute'` resolves to dist/src/index.js, in a working folder that holds
// what the README's text says exists there — `models/` (the repo's), `my-adapter/` (a PEFT adapter) and
// `runs/demo/best_model/` (a trained folder, here with untrained experts and router: made through the API,
// not by a training run, to keep this test short). A block preceded by
// `<!-- readme-test: skip (why) -->` is left out; none is today.

const root = fileURLToPath(new URL('../../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'loraroute-readme-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface Block { code: string; line: number; skip: string | null }

/** The ```ts blocks of a Markdown text, with the 1-based line of their first code line. */
export function tsBlocks(md: string): Block[] {
  const lines = md.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    let prev = i - 1;
    while (prev >= 0 && lines[prev].trim() === '') prev--;
    const skip = prev >= 0 ? /<!--\s*readme-test:\s*skip\s*(.*?)\s*-->/.exec(lines[prev])?.[1] ?? null : null;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    assert.ok(end < lines.length, `README.md:${i + 1}: a ts block is not closed`);
    out.push({ code: lines.slice(start, end).join('\n') + '\n', line: start + 1, skip });
    i = end;
  }
  return out;
}

function randomAdapter(cfg: GPT2Config, name: string, seed: number, targets: string[]): LoraAdapter {
  const a = new LoraAdapter(defaultLoraConfig({ r: 4, loraAlpha: 8, targetModules: targets }), cfg, name);
  a.initialize(seed);
  const rng = makeRng(seed + 1);
  for (const s of a.sites) for (let i = 0; i < s.B.length; i++) s.B[i] = 0.05 * (rng() - 0.5);
  return a;
}

/** The files the README's text assumes, in the working folder. */
function prepareWorkFolder(): void {
  symlinkSync(join(root, 'models'), join(work, 'models'), 'dir');
  const cfg = readGPT2Config(bundledModelDir());
  savePeftAdapter(randomAdapter(cfg, 'default', 1, ['c_attn']), join(work, 'my-adapter'));
  const names = ['simple', 'medium', 'complex'];
  const config = defaultConfig();
  config.model.base_model_name = BUNDLED;
  config.model.lora_rank = 4;
  config.model.lora_alpha = 8;
  config.generation.max_new_tokens = 16;
  const experts = names.map((n, k) => randomAdapter(cfg, n, 10 + k, ['c_attn', 'c_proj']));
  const router = Router.create({ featureNames: [...ROUTER_FEATURE_NAMES], pooledDim: 0, labelMode: 'tier', numExperts: 3, hiddenDim: 16, expertNames: names }, 3);
  mkdirSync(join(work, 'runs', 'demo'), { recursive: true });
  saveSystem(join(work, 'runs', 'demo', 'best_model'), config, experts, router);
}

/** Type errors of the blocks against dist/src/index.d.ts, as "README.md:LINE: message". */
function typeErrors(files: Array<{ file: string; block: Block }>): string[] {
  const program = ts.createProgram(files.map((f) => f.file), {
    strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')],
    paths: { loraroute: [join(root, 'dist', 'src', 'index.d.ts')] },
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const f = files.find((x) => d.file && x.file === d.file.fileName);
    const at = f && d.file && d.start !== undefined ? `README.md:${f.block.line + d.file.getLineAndCharacterOfPosition(d.start).line}` : 'README block';
    return `${at}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

test('README.md: every ts block type-checks against the package and runs', () => {
  const blocks = tsBlocks(readme);
  assert.ok(blocks.length >= 1, 'the README has ts blocks');
  const run = blocks.filter((b) => b.skip === null);
  for (const b of blocks) if (b.skip !== null) assert.ok(b.skip.length > 0, `README.md:${b.line}: a skip must say why`);
  prepareWorkFolder();
  const files = run.map((block, i) => ({ file: join(work, `block-${i}.ts`), block }));
  for (const f of files) writeFileSync(f.file, f.block.code);
  assert.deepEqual(typeErrors(files), []);
  const index = pathToFileURL(join(root, 'dist', 'src', 'index.js')).href;
  files.forEach(({ block }, i) => {
    const js = ts.transpileModule(block.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
      .replace(/(from\s+)(['"])loraroute\2/g, `$1${JSON.stringify(index)}`);
    assert.ok(block.code.includes("'loraroute'") ? js.includes(index) : true, 'the import is rewritten');
    const file = join(work, `block-${i}.mjs`);
    writeFileSync(file, js);
    const r = spawnSync(process.execPath, [file], { cwd: work, encoding: 'utf8', timeout: 600_000 }); // generous: a loaded machine is slow, a hang still ends
    assert.equal(r.status, 0, `README.md:${block.line}: the block exits ${r.status}${r.signal ? ` (${r.signal})` : ''}\n${r.stderr}`);
  });
});

test('the block extractor: lines, skips, closing fences', () => {
  const md = ['# t', '```ts', 'a;', '```', '', '<!-- readme-test: skip (needs a GPU) -->', '', '```ts', 'b;', '```', '```sh', 'c', '```'].join('\n');
  assert.deepEqual(tsBlocks(md), [{ code: 'a;\n', line: 3, skip: null }, { code: 'b;\n', line: 9, skip: '(needs a GPU)' }]);
});
