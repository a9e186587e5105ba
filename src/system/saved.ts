import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { loadConfig, serializeConfig, resolveModelDir, type Config } from '../config/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readUserJson } from '../io/user-file.js';
import { replaceDirAtomic } from '../io/atomic-dir.js';
import { LoraRouteError } from '../errors.js';
import type { GPT2Config } from '../model/config.js';
import type { LoraAdapter } from '../lora/adapter.js';
import { loadPeftAdapter, savePeftAdapter } from '../lora/peft.js';
import type { Router } from '../router/router.js';
import { loadRouter, saveRouter } from '../router/io.js';
import { loadClusters, saveClusters, type Clusters } from './clusters.js';
import { loadSelection, saveSelection, type Selection } from './selection.js';

/**
 * A trained loraroute folder:
 *   loraroute.json        format marker, expert names
 *   config.yaml           the resolved run config; model.base_model_name relative to this folder (or `bundled`)
 *   experts/<name>/       one PEFT LoRA adapter folder per expert (loads in PEFT unchanged)
 *   router/               router.safetensors + router.json
 */
export const MANIFEST = 'loraroute.json';
export const FORMAT = 'loraroute-model';

export interface Manifest {
  format: typeof FORMAT;
  version: 1;
  experts: string[];
  created: string;
}

/** What a model folder may hold besides experts and router. */
export interface SystemExtras {
  /** The warm-start LoRA (shared/): the fallback policy's target. */
  shared?: LoraAdapter | null;
  /** Cluster centroids (clusters.json) when the experts' groups are content clusters. */
  clusters?: Clusters | null;
  /** What was chosen on validation (selection.json). */
  selection?: Selection | null;
}

export const SHARED_DIR = 'shared';

/**
 * Writes a model folder as one atomic replacement (`replaceDirAtomic`): `dir` resolves to the previous complete
 * model or to the new complete one at every moment, never to half a model.
 */
export function saveSystem(dir: string, config: Config, experts: LoraAdapter[], router: Router, extras: SystemExtras = {}): void {
  for (const e of experts) checkExpertName(e.name, `saving ${dir}`);
  replaceDirAtomic(dir, (tmp) => {
    // the config is written as if it lived in `dir` (a sibling of tmp), so relative paths stay right
    writeFileAtomic(join(tmp, 'config.yaml'), serializeConfig(config, dir));
    for (const e of experts) savePeftAdapter(e, join(tmp, 'experts', e.name));
    mkdirSync(join(tmp, 'router'), { recursive: true });
    saveRouter(join(tmp, 'router'), router);
    if (extras.shared) savePeftAdapter(extras.shared, join(tmp, SHARED_DIR));
    if (extras.clusters) saveClusters(tmp, extras.clusters);
    if (extras.selection) saveSelection(tmp, extras.selection);
    const manifest: Manifest = { format: FORMAT, version: 1, experts: experts.map((e) => e.name), created: new Date().toISOString() };
    writeFileAtomic(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  });
}

/** An expert name is one plain folder name under experts/ (letters, digits, `_`, `-`, `.`; not `.` or `..`). */
const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

export function checkExpertName(name: unknown, where: string): asserts name is string {
  if (typeof name !== 'string' || !PLAIN_NAME.test(name)) {
    throw new LoraRouteError(
      `${where}: expert name ${JSON.stringify(name)} is not a plain folder name (expected letters, digits, _ - . — at most 100, ` +
        'not starting with "." — naming a folder inside experts/)',
    );
  }
}

/** The folder of expert `name` in a model folder; refused unless it is a plain name inside `experts/`. */
export function expertDir(dir: string, name: string, where = join(dir, MANIFEST)): string {
  checkExpertName(name, where);
  const experts = resolve(dir, 'experts');
  const path = resolve(experts, name);
  const rel = relative(experts, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new LoraRouteError(`${where}: expert "${name}" resolves outside ${experts}`);
  return path;
}

export function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) {
    const hf = existsSync(join(dir, 'config.json')) ? ' — it looks like a Hugging Face model folder: pass it as --model' : '';
    throw new LoraRouteError(`${dir} is not a trained loraroute folder (no ${MANIFEST}; expected e.g. RUN/best_model)${hf}`);
  }
  const m = readUserJson(file, 'model manifest') as Manifest;
  if (m === null || typeof m !== 'object' || m.format !== FORMAT || !Array.isArray(m.experts) || m.experts.length === 0) {
    throw new LoraRouteError(`${file}: expected {"format": "${FORMAT}", "experts": [...]} `);
  }
  for (const name of m.experts) checkExpertName(name, file);
  if (new Set(m.experts).size !== m.experts.length) throw new LoraRouteError(`${file}: expert names must be distinct, got ${JSON.stringify(m.experts)}`);
  return m;
}

/** The saved config and the base model folder it names (`modelOverride` wins). */
export function readSystemConfig(dir: string, modelOverride?: string): { config: Config; modelDir: string } {
  readManifest(dir); // a clear message for a folder that is not a trained loraroute model
  const { config } = loadConfig(join(dir, 'config.yaml'));
  const modelDir = modelOverride ?? resolveModelDir(config, join(dir, 'config.yaml'));
  return { config, modelDir };
}

export function loadSystemParts(published: string, model: GPT2Config): {
  manifest: Manifest; experts: LoraAdapter[]; router: Router; shared: LoraAdapter | null; clusters: Clusters | null; selection: Selection | null;
} {
  // one version throughout, even if a training run publishes a new one meanwhile
  const dir = existsSync(published) ? realpathSync(published) : published;
  const manifest = readManifest(dir);
  const experts = manifest.experts.map((name) => loadPeftAdapter(expertDir(dir, name), model, name));
  const router = loadRouter(join(dir, 'router'));
  if (router.numExperts !== experts.length) {
    throw new LoraRouteError(`${dir}: the router has ${router.numExperts} outputs but ${experts.length} experts are listed in ${MANIFEST}`);
  }
  const shared = existsSync(join(dir, SHARED_DIR, 'adapter_config.json')) ? loadPeftAdapter(join(dir, SHARED_DIR), model, SHARED_DIR) : null;
  return { manifest, experts, router, shared, clusters: loadClusters(dir, experts.length), selection: loadSelection(dir, experts.length) };
}
