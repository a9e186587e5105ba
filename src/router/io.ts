import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { readUserJson } from '../io/user-file.js';
import { assertFinite } from '../io/finite.js';
import { resolveRouterConfig, type ResolvedRouterConfig } from './config.js';
import { RouterMLP, routerTensorSpecs } from './mlp.js';
import { FeatureNormalizer, type NormalizerJSON } from './normalizer.js';
import { LABEL_MODES, Router, type LabelMode, type RouterMeta } from './router.js';

export const ROUTER_WEIGHTS_FILE = 'router.safetensors';
export const ROUTER_CONFIG_FILE = 'router.json';
const FORMAT = 'loraroute-router';

/** The contents of router.json. */
export interface RouterJSON {
  format: typeof FORMAT;
  version: 1;
  config: ResolvedRouterConfig;
  featureNames: string[];
  pooledDim: number;
  labelMode: LabelMode;
  expertNames?: string[];
  normalizer: NormalizerJSON;
  /** Tensor names and shapes expected in router.safetensors (informative; the config decides). */
  tensors: Record<string, number[]>;
}

/** The router.json object for a router. */
export function routerToJSON(router: Router): RouterJSON {
  const j: RouterJSON = {
    format: FORMAT,
    version: 1,
    config: { ...router.mlp.config },
    featureNames: [...router.meta.featureNames],
    pooledDim: router.meta.pooledDim,
    labelMode: router.meta.labelMode,
    normalizer: router.normalizer.toJSON(),
    tensors: Object.fromEntries(router.mlp.specs.map((s) => [s.name, s.shape])),
  };
  if (router.meta.expertNames) j.expertNames = [...router.meta.expertNames];
  return j;
}

/** Writes dir/router.safetensors (F32 weights) and dir/router.json (config, features, normaliser, label mode). */
export function saveRouter(dir: string, router: Router): void {
  const tensors: Record<string, TensorToWrite> = {};
  for (const s of router.mlp.specs) {
    tensors[s.name] = { dtype: 'F32', shape: s.shape, data: router.mlp.params.slice(s.offset, s.offset + s.size) };
  }
  writeSafetensors(join(dir, ROUTER_WEIGHTS_FILE), tensors, { format: 'pt', loraroute: FORMAT });
  writeFileAtomic(join(dir, ROUTER_CONFIG_FILE), JSON.stringify(routerToJSON(router), null, 2) + '\n');
}

function parseRouterJSON(j: unknown, path: string): RouterJSON {
  check(j !== null && typeof j === 'object', `${path}: expected a JSON object`);
  const o = j as Partial<RouterJSON>;
  check(o.format === FORMAT, `${path}: "format" must be "${FORMAT}", got ${JSON.stringify(o.format)}`);
  check(o.version === 1, `${path}: unsupported "version" ${JSON.stringify(o.version)} (this build reads 1)`);
  check(o.config && typeof o.config === 'object', `${path}: missing "config"`);
  check(Array.isArray(o.featureNames) && o.featureNames.every((n) => typeof n === 'string'), `${path}: "featureNames" must be an array of strings`);
  check(Number.isInteger(o.pooledDim) && (o.pooledDim as number) >= 0, `${path}: "pooledDim" must be an integer >= 0, got ${JSON.stringify(o.pooledDim)}`);
  check(LABEL_MODES.includes(o.labelMode as LabelMode), `${path}: "labelMode" must be one of ${LABEL_MODES.map((m) => `"${m}"`).join(', ')}, got ${JSON.stringify(o.labelMode)}`);
  if (o.expertNames !== undefined) check(Array.isArray(o.expertNames) && o.expertNames.every((n) => typeof n === 'string'), `${path}: "expertNames" must be an array of strings`);
  check(o.normalizer && typeof o.normalizer === 'object', `${path}: missing "normalizer"`);
  return o as RouterJSON;
}

/**
 * Loads a router saved by saveRouter. Every mismatch between router.json and router.safetensors (input width
 * vs feature count, normaliser length, a tensor's presence, dtype or shape) is a LoraRouteError naming the
 * file and the tensor or key.
 */
export function loadRouter(dir: string): Router {
  const jsonPath = join(dir, ROUTER_CONFIG_FILE);
  const stPath = join(dir, ROUTER_WEIGHTS_FILE);
  check(existsSync(jsonPath), `no ${ROUTER_CONFIG_FILE} in ${dir}`);
  check(existsSync(stPath), `no ${ROUTER_WEIGHTS_FILE} in ${dir}`);
  const j = parseRouterJSON(readUserJson(jsonPath, 'router config'), jsonPath);
  const cfg = resolveRouterConfig(j.config, `${jsonPath} "config"`);
  const F = j.featureNames.length;
  check(cfg.inputDim === F + j.pooledDim, `${jsonPath}: config.inputDim ${cfg.inputDim} != ${F} featureNames + pooledDim ${j.pooledDim}`);
  const normalizer = FeatureNormalizer.fromJSON(j.normalizer, `${jsonPath} "normalizer"`);
  check(normalizer.dim === cfg.inputDim, `${jsonPath}: normaliser has ${normalizer.dim} columns, expected inputDim ${cfg.inputDim}`);
  if (j.expertNames) check(j.expertNames.length === cfg.numExperts, `${jsonPath}: ${j.expertNames.length} expertNames for numExperts ${cfg.numExperts}`);

  // the shapes are checked against the tensors present before the MLP (sized by router.json) is allocated
  const specs = routerTensorSpecs(cfg);
  const file = openSafetensors(stPath);
  const expected = new Set(specs.map((s) => s.name));
  const extra = file.names().filter((n) => !expected.has(n));
  check(extra.length === 0, `${stPath}: unexpected tensor(s) ${extra.join(', ')} for the config in ${ROUTER_CONFIG_FILE} (scoreHead ${cfg.scoreHead})`);
  for (const s of specs) {
    check(file.has(s.name), `${stPath}: missing tensor '${s.name}' (expected shape [${s.shape.join(', ')}] from ${ROUTER_CONFIG_FILE})`);
    const info = file.info(s.name);
    check(
      info.shape.length === s.shape.length && info.shape.every((d, i) => d === s.shape[i]),
      `${stPath}: tensor '${s.name}' has shape [${info.shape.join(', ')}], but ${ROUTER_CONFIG_FILE} implies [${s.shape.join(', ')}]`,
    );
  }
  const mlp = new RouterMLP(cfg, 0);
  for (const s of mlp.specs) {
    const data = file.getF32(s.name);
    assertFinite(data, stPath, s.name);
    mlp.params.set(data, s.offset);
  }
  const meta: RouterMeta = { featureNames: j.featureNames, pooledDim: j.pooledDim, labelMode: j.labelMode };
  if (j.expertNames) meta.expertNames = j.expertNames;
  return new Router(mlp, normalizer, meta);
}
