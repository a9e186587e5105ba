/** docs/config.md, generated from the schema table (run `npm run docs:config`; a test checks it is current). */
import { describeShrinkRule, DEBUG_SHRINK } from './debug.js';
import { formatNumber, type Field } from './fields.js';
import { CROSS_CHECKS, SCHEMA, SECTIONS } from './schema.js';

const SECTION_DOCS: Record<(typeof SECTIONS)[number], string> = {
  model: 'The base model, the LoRA experts and the router.',
  training: 'The three training phases (experts, router, joint) and the one-LoRA baseline.',
  data: 'Which records, how they are split and cut.',
  eval: 'Evaluation on the test split against the baselines.',
  generation: 'Text generation with the trained mixture.',
};

function formatDefault(v: unknown): string {
  if (typeof v === 'number') return formatNumber(v);
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'number' ? formatNumber(x) : String(x))).join(', ')}]`;
  return String(v);
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderConfigDocs(): string {
  const out: string[] = [];
  out.push(
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; do not edit by hand (a test checks it is current). -->',
    '',
    'Every run of loraroute is configured by one YAML file with five sections. Values are layered:',
    '',
    '1. the defaults below;',
    '2. the YAML file (`--config FILE`), which may set any subset of keys;',
    '3. `--set section.key=value` on the command line (repeatable), the value parsed as YAML:',
    '   `--set training.learning_rate=1e-3`, `--set model.complexity_thresholds=[0.2,0.8]`,',
    '   `--set model.target_modules=[c_attn,c_proj,c_fc]`.',
    '',
    'The loader is strict: an unknown key (at any level), a value of the wrong type, a value out of range or a',
    'broken cross-field rule is an error naming the file and line (or the `--set` text), the full key, what was',
    'expected and what was given, with a "did you mean" suggestion for misspelt keys and values. All problems are',
    'reported at once. Numbers are YAML 1.2 (`2e-4` is a number; quoted `"2e-4"` is a string and an error).',
    '',
    'Paths (`model.base_model_name`, `data.paths`) are relative to the config file\'s folder (to the working',
    'directory for `--set`); `~/` is the home folder. A run folder stores the resolved config with paths',
    'relative to that folder, so it reloads the same model and data.',
    '',
    'Shipped configs: `configs/default.yaml` (GPT-2 124M, the original system\'s settings; you supply the model',
    'folder), `configs/full.yaml` (the bundled model on all data; hours, resumable), `configs/demo.yaml` (the',
    'bundled model on a subset; minutes).',
    '',
  );
  for (const s of SECTIONS) {
    out.push(`## \`${s}\``, '', SECTION_DOCS[s], '', '| key | type | default | allowed | description |', '| --- | --- | --- | --- | --- |');
    for (const [k, f] of Object.entries(SCHEMA[s] as Record<string, Field<unknown>>)) {
      out.push(`| \`${s}.${k}\` | ${f.kind} | \`${cell(formatDefault(f.default))}\` | ${cell(f.allowed)} | ${cell(f.doc)} |`);
    }
    out.push('');
  }
  out.push('## Rules across keys', '');
  for (const r of CROSS_CHECKS) out.push(`- ${r.doc}.`);
  out.push(
    '- Default thresholds: when `model.complexity_thresholds` is not given and `model.num_experts` is not 3, the',
    '  cut points are evenly spaced (`k / num_experts`), e.g. `[0.5]` for 2 experts.',
    '',
    '## `--debug`',
    '',
    '`--debug` shrinks any config to a smoke test that still runs every phase, evaluation and generation:',
    '',
  );
  for (const r of DEBUG_SHRINK) out.push(`- ${describeShrinkRule(r)}`);
  out.push('');
  return out.join('\n');
}
