/**
 * Paths inside a config: relative ones are resolved against the folder of the file that set them (the
 * config file; the working directory for `--set`), and written back relative to a run folder when saved.
 * `bundled` (model) and `[]` (data) stand for the files shipped in this package.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LoraRouteError } from '../errors.js';
import { BUNDLED, SCHEMA, SECTIONS, type Config } from './schema.js';
import type { Field } from './fields.js';

let root: string | undefined;

/** The package root (the folder holding loraroute's package.json), found from this file's location. */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'loraroute') return (root = dir);
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('loraroute: cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** models/tiny-gpt2 inside the package: what `model.base_model_name: bundled` means. */
export function bundledModelDir(): string {
  return join(packageRoot(), 'models', 'tiny-gpt2');
}

/** The Alpaca shards inside the package (data/alpaca/*.json[.gz], sorted): what `data.paths: []` means. */
export function bundledDataFiles(): string[] {
  const dir = join(packageRoot(), 'data', 'alpaca');
  return readdirSync(dir)
    .filter((f) => /^alpaca_data_part\d+\.json(\.gz)?$/.test(f))
    .sort((a, b) => Number(/\d+/.exec(a)?.[0]) - Number(/\d+/.exec(b)?.[0]))
    .map((f) => join(dir, f));
}

/** One path value made absolute against `baseDir` (`~/` = the home folder). */
export function resolvePath(p: string, baseDir: string): string {
  if (p === '~' || p.startsWith('~/')) return join(homedir(), p.slice(1));
  return resolve(baseDir, p);
}

function isPathField(f: Field<unknown>): boolean {
  return f.kind === 'path' || f.kind === 'path[]';
}

/** Applies `fn` to every path in the config (except the word `bundled`), returning a new config. */
function mapPaths(config: Config, fn: (p: string) => string): Config {
  const out = structuredClone(config) as unknown as Record<string, Record<string, unknown>>;
  for (const s of SECTIONS) {
    for (const [k, f] of Object.entries(SCHEMA[s] as Record<string, Field<unknown>>)) {
      if (!isPathField(f)) continue;
      const v = out[s][k];
      if (typeof v === 'string') out[s][k] = v === BUNDLED ? v : fn(v);
      else if (Array.isArray(v)) out[s][k] = v.map((p: string) => fn(p));
    }
  }
  return out as unknown as Config;
}

/**
 * Makes every relative path absolute against `baseDir` (the config file's folder). Absolute paths and
 * `bundled` are kept, so resolving twice changes nothing.
 */
export function resolveConfig(config: Config, baseDir: string): Config {
  return mapPaths(config, (p) => resolvePath(p, baseDir));
}

/**
 * Writes absolute paths relative to `dir` (POSIX separators) where that is possible (same drive), so a
 * run folder moved together with its model and data still loads.
 */
export function relativizeConfig(config: Config, dir: string): Config {
  const base = resolve(dir);
  return mapPaths(config, (p) => {
    if (!isAbsolute(p)) return p;
    const rel = relative(base, p);
    if (isAbsolute(rel)) return p;
    const posix = rel.split(sep).join('/');
    return posix === '' ? '.' : posix;
  });
}

/**
 * The model folder a config names, absolute, checked to exist: `bundled` is the package's tiny GPT-2.
 * The error says how to point the config at a model.
 */
export function resolveModelDir(config: Config, source = 'the config'): string {
  const name = config.model.base_model_name;
  const dir = name === BUNDLED ? bundledModelDir() : resolve(name);
  if (!existsSync(join(dir, 'config.json'))) {
    throw new LoraRouteError(
      `model.base_model_name in ${source}: ${dir} is not a Hugging Face GPT-2 folder (no config.json there). ` +
        'Point it at a folder holding config.json, model.safetensors and the tokenizer (a path relative to the config file), ' +
        `use \`bundled\` for the package's tiny model, or pass --set model.base_model_name=DIR.`,
      'E_CONFIG',
    );
  }
  return dir;
}
