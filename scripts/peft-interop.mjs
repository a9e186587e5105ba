#!/usr/bin/env node
// The loraroute side of scripts/check-peft-interop.py (which runs it): builds dist/, saves adapters with our
// savePeftAdapter (random A and random non-zero B, so they change the output), and writes our logits for fixed
// prompts for each of those adapters and for every adapter folder given with --score (e.g. ones PEFT saved,
// or one `loraroute finetune` wrote).
//
// Usage: node scripts/peft-interop.mjs OUT_DIR [--model DIR] [--score ADAPTER_DIR]... [--backend NAME] [--no-build]
// Writes OUT_DIR/manifest.json: { model, backend, prompts, input_ids, cases: [{ name, adapter, logits, made_by }] }
// and OUT_DIR/<case>/logits.safetensors with `logits.<k>` [T_k, V] (F32) for prompt k.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PROMPTS = [
  'Give three tips for staying healthy.',
  'Below is an instruction that describes a task. Write a response that appropriately completes the request.',
];

function parseArgs(argv) {
  const o = { out: null, model: join(root, 'models', 'tiny-gpt2'), score: [], backend: 'auto', build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--model') o.model = resolve(next());
    else if (a === '--score') o.score.push(resolve(next()));
    else if (a === '--backend') o.backend = next();
    else if (a === '--no-build') o.build = false;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (o.out === null) o.out = resolve(a);
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!o.out) throw new Error('usage: node scripts/peft-interop.mjs OUT_DIR [--model DIR] [--score ADAPTER_DIR]... [--backend NAME] [--no-build]');
  return o;
}

/** The adapters we save for PEFT to load: what finetune writes by default, and settings that exercise the file format. */
function ourCases(lora) {
  return [
    { name: 'ours-default', config: lora.defaultLoraConfig({ baseModelNameOrPath: 'tiny-gpt2' }), seed: 11 },
    {
      name: 'ours-rslora-patterns',
      config: lora.defaultLoraConfig({
        r: 8, loraAlpha: 16, loraDropout: 0, useRslora: true, targetModules: ['c_attn', 'c_fc', 'mlp.c_proj'],
        layersToTransform: [1, 3, 5], rankPattern: { c_fc: 4 }, alphaPattern: { 'mlp.c_proj': 32 },
      }),
      seed: 12,
    },
    {
      name: 'ours-regex-exclude',
      config: lora.defaultLoraConfig({
        r: 4, loraAlpha: 12, targetModules: 'transformer\\.h\\.[0-3]\\.(attn\\.c_.*|mlp\\.c_fc)', excludeModules: ['h.2.attn.c_proj'],
      }),
      seed: 13,
    },
  ];
}

/** Standard normal from a uniform generator (Box-Muller). */
function gaussian(rng) {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.build) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  const dist = (p) => import(join(root, 'dist', 'src', p));
  const [{ loadGPT2 }, lora, adapterMod, peft, { GPT2Tokenizer }, { writeSafetensors }, { makeRng }, { LoraMixture }] = await Promise.all([
    dist('model/load.js'), dist('lora/config.js'), dist('lora/adapter.js'), dist('lora/peft.js'), dist('tokenizer/index.js'),
    dist('io/safetensors.js'), dist('model/sampling.js'), dist('lora/mixture.js'),
  ]);
  const model = loadGPT2(o.model, { backend: o.backend });
  const tokenizer = GPT2Tokenizer.fromDir(o.model);
  const ids = PROMPTS.map((p) => tokenizer.encode(p));
  mkdirSync(o.out, { recursive: true });

  const cases = [];
  for (const c of ourCases(lora)) {
    const a = new adapterMod.LoraAdapter(c.config, model.config);
    a.initialize(c.seed); // PEFT's init: A Kaiming-uniform, B zero ...
    const rng = makeRng(c.seed + 1000);
    for (const s of a.sites) for (let i = 0; i < s.B.length; i++) s.B[i] = 0.05 * gaussian(rng); // ... then B random
    const dir = join(o.out, c.name, 'adapter');
    peft.savePeftAdapter(a, dir);
    cases.push({ name: c.name, adapter: dir, made_by: 'loraroute savePeftAdapter' });
  }
  o.score.forEach((dir, i) => {
    const label = basename(dir) === 'adapter' ? basename(dirname(dir)) : basename(dir); // <case>/adapter -> <case>
    cases.push({ name: `scored-${i}-${label}`, adapter: dir, made_by: 'given' });
  });

  for (const c of cases) {
    const adapter = peft.loadPeftAdapter(c.adapter, model.config);
    const mix = new LoraMixture([adapter], model.backend);
    const tensors = {};
    ids.forEach((row, k) => {
      const T = row.length;
      mix.useOnly(0, 1);
      const res = model.forward({ ids: Int32Array.from(row), B: 1, T }, { hook: mix, logits: 'all' });
      tensors[`logits.${k}`] = { dtype: 'F32', shape: [T, model.config.vocabSize], data: Float32Array.from(res.logits) };
    });
    mkdirSync(join(o.out, c.name), { recursive: true });
    c.logits = join(o.out, c.name, 'logits.safetensors');
    writeSafetensors(c.logits, tensors);
    c.sites = adapter.sites.map((s) => s.name);
  }
  const manifest = { model: o.model, backend: model.backend.name, prompts: PROMPTS, input_ids: ids, cases };
  writeFileSync(join(o.out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  console.log(`peft-interop: ${cases.length} adapters scored with the ${model.backend.name} backend into ${o.out}`);
}

main().catch((e) => {
  console.error(`peft-interop: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
