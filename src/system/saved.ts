import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadConfig, serializeConfig, resolveModelDir, type Config } from '../config/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readUserJson } from '../io/user-file.js';
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

/** Writes a model folder next to its final place and renames it in, so a crash never leaves half a model. */
export function saveSystem(dir: string, config: Config, experts: LoraAdapter[], router: Router, extras: SystemExtras = {}): void {
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // the config is written as if it lived in `dir` (same depth as tmp), so relative paths stay right
  writeFileAtomic(join(tmp, 'config.yaml'), serializeConfig(config, dir));
  for (const e of experts) savePeftAdapter(e, join(tmp, 'experts', e.name));
  mkdirSync(join(tmp, 'router'), { recursive: true });
  saveRouter(join(tmp, 'router'), router);
  if (extras.shared) savePeftAdapter(extras.shared, join(tmp, SHARED_DIR));
  if (extras.clusters) saveClusters(tmp, extras.clusters);
  if (extras.selection) saveSelection(tmp, extras.selection);
  const manifest: Manifest = { format: FORMAT, version: 1, experts: experts.map((e) => e.name), created: new Date().toISOString() };
  writeFileAtomic(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  const old = `${tmp}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

export function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) {
    const hf = existsSync(join(dir, 'config.json')) ? ' — it looks like a Hugging Face model folder: pass it as --model' : '';
    throw new LoraRouteError(`${dir} is not a trained loraroute folder (no ${MANIFEST}; expected e.g. RUN/best_model)${hf}`);
  }
  const m = readUserJson(file, 'model manifest') as Manifest;
  if (m.format !== FORMAT || !Array.isArray(m.experts) || m.experts.length === 0) {
    throw new LoraRouteError(`${file}: expected {"format": "${FORMAT}", "experts": [...]} `);
  }
  return m;
}

/** The saved config and the base model folder it names (`modelOverride` wins). */
export function readSystemConfig(dir: string, modelOverride?: string): { config: Config; modelDir: string } {
  readManifest(dir); // a clear message for a folder that is not a trained loraroute model
  const { config } = loadConfig(join(dir, 'config.yaml'));
  const modelDir = modelOverride ?? resolveModelDir(config, join(dir, 'config.yaml'));
  return { config, modelDir };
}

export function loadSystemParts(dir: string, model: GPT2Config): {
  manifest: Manifest; experts: LoraAdapter[]; router: Router; shared: LoraAdapter | null; clusters: Clusters | null; selection: Selection | null;
} {
  const manifest = readManifest(dir);
  const experts = manifest.experts.map((name) => loadPeftAdapter(join(dir, 'experts', name), model, name));
  const router = loadRouter(join(dir, 'router'));
  if (router.numExperts !== experts.length) {
    throw new LoraRouteError(`${dir}: the router has ${router.numExperts} outputs but ${experts.length} experts are listed in ${MANIFEST}`);
  }
  const shared = existsSync(join(dir, SHARED_DIR, 'adapter_config.json')) ? loadPeftAdapter(join(dir, SHARED_DIR), model, SHARED_DIR) : null;
  return { manifest, experts, router, shared, clusters: loadClusters(dir, experts.length), selection: loadSelection(dir, experts.length) };
}
