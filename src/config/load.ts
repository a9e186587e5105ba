/**
 * Loading a run configuration: schema defaults ← YAML file ← `--set section.key=value` overrides, strictly
 * checked (unknown keys, wrong types, out-of-range values and cross-field rules are errors that name the
 * file, line, key, expected type and given value). Relative paths are resolved against the config file's
 * folder (the working directory for `--set`).
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, parse as parseYaml, parseDocument, type Node as YamlNode } from 'yaml';
import { LoraRouteError } from '../errors.js';
import { ConfigBuilder, suggestKey } from './build.js';
import { fieldOf, type Config } from './schema.js';
import { debugShrink } from './debug.js';
import { MAX_CONFIG_FILE_BYTES, quoteText, readUserText } from '../io/user-file.js';

export { debugShrink } from './debug.js';
export { relativizeConfig, resolveConfig, resolveModelDir, bundledModelDir, bundledDataFiles } from './paths.js';
export { serializeConfig } from './serialize.js';

/** `source` when no config file was given. */
export const DEFAULTS_SOURCE = '<defaults>';

export interface LoadOptions {
  /** Folder `--set` paths are relative to (default: process.cwd()). */
  cwd?: string;
  /** Shrink the run (`--debug`, see debugShrink) before the cross-field checks, which then see the shrunk values. */
  debug?: boolean;
}

export interface LoadedConfig {
  /** The validated config; every path absolute (or `bundled`). */
  config: Config;
  /** Absolute path of the config file, or `<defaults>` when none was given. */
  source: string;
}

/**
 * Loads `path` (YAML) over the defaults, then applies `overrides` (each `section.key=value`, value parsed as
 * YAML: `model.complexity_thresholds=[0.2,0.8]`). Throws a LoraRouteError (code E_CONFIG) listing every
 * problem.
 */
export function loadConfig(path?: string, overrides: readonly string[] = [], opts: LoadOptions = {}): LoadedConfig {
  const builder = new ConfigBuilder();
  let source = DEFAULTS_SOURCE;
  if (path !== undefined) {
    source = resolve(path);
    const st = statSync(source, { throwIfNoEntry: false });
    if (st?.isDirectory()) throw new LoraRouteError(`config file ${path}: is a folder, expected a YAML file`, 'E_CONFIG');
    let text: string;
    try {
      text = readUserText(source, 'config file', MAX_CONFIG_FILE_BYTES);
    } catch (e) {
      if (e instanceof LoraRouteError) throw new LoraRouteError(st ? e.message : `config file ${path}: not found (${e.message})`, 'E_CONFIG');
      throw e;
    }
    applyYaml(builder, text, path, dirname(source));
  }
  const cwd = opts.cwd ?? process.cwd();
  for (const o of overrides) {
    const parsed = parseOverride(o);
    if ('problem' in parsed) builder.problem(`--set ${o}`, parsed.problem);
    else builder.applyValue(parsed.section, parsed.key, parsed.value, `--set ${o}`, cwd);
  }
  const label = [path ?? 'defaults', ...(overrides.length ? [`${overrides.length} --set override(s)`] : [])].join(' + ');
  return { config: builder.finish(label, opts.debug ? debugShrink : undefined), source };
}

/**
 * Checks a config given as an object (`{model: {...}, ...}`, missing keys take their defaults), e.g. one
 * built in code. Relative paths are resolved against `baseDir`.
 */
export function validateConfig(obj: unknown, label = '<object>', baseDir = process.cwd()): Config {
  const builder = new ConfigBuilder();
  builder.applyObject(obj, () => label, baseDir);
  return builder.finish(label);
}

/** Alias (`*name`) expansions a config may use; a billion-laughs alias bomb stops here. */
const MAX_YAML_ALIASES = 100;

/** Parses the YAML text of a config file into the builder, with file:line:col locations. */
function applyYaml(builder: ConfigBuilder, text: string, file: string, baseDir: string): void {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors.slice(0, 20)) builder.problem(at(e.pos[0]), `YAML syntax: ${quoteText(e.message.split('\n')[0]!, 200)}`);
    return;
  }
  const places = keyOffsets(doc.contents);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    // e.g. "Excessive alias count indicates a resource exhaustion attack" (a billion-laughs alias bomb)
    builder.problem(file, `cannot expand the YAML: ${quoteText((e as Error).message, 200)} (at most ${MAX_YAML_ALIASES} alias uses)`);
    return;
  }
  builder.applyObject(
    value,
    (p) => {
      const off = places.get(p.join('.'));
      return off === undefined ? file : at(off);
    },
    baseDir,
  );
}

/** Offsets of the keys of a two-level mapping: 'model' → offset, 'model.lora_rank' → offset. */
function keyOffsets(root: YamlNode | null): Map<string, number> {
  const out = new Map<string, number>();
  if (!isMap(root)) return out;
  for (const pair of root.items) {
    const k = pair.key;
    if (!isScalar(k) || !k.range) continue;
    const section = String(k.value);
    out.set(section, k.range[0]);
    if (!isMap(pair.value)) continue;
    for (const p of pair.value.items) {
      if (isScalar(p.key) && p.key.range) out.set(`${section}.${String(p.key.value)}`, p.key.range[0]);
    }
  }
  return out;
}

export type ParsedOverride = { section: string; key: string; value: unknown } | { problem: string };

/**
 * Splits `section.key=value` and parses the value as YAML (`8`, `2e-4`, `true`, `[0.2,0.8]`, `[a, b]`).
 * For string keys an unquoted scalar is taken as written, so `--set model.base_model_name=2024` is a path.
 */
export function parseOverride(text: string): ParsedOverride {
  const eq = text.indexOf('=');
  if (eq < 0) return { problem: 'expected section.key=value (e.g. --set training.learning_rate=1e-3)' };
  const path = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  const parts = path.split('.');
  if (parts.length !== 2 || parts.some((p) => p === '')) {
    const hint = parts.length === 1 && parts[0] ? suggestKey(parts[0], undefined) : '';
    return { problem: `'${path}' is not a config key: keys are section.key (e.g. model.lora_rank)${hint}` };
  }
  const [section, key] = parts;
  const field = fieldOf(section, key);
  if (!field) return { problem: `unknown key '${path}'${suggestKey(section, key)}` };
  let value: unknown;
  try {
    value = parseYaml(raw);
  } catch (e) {
    return { problem: `${path}: the value is not valid YAML (${(e as Error).message.split('\n')[0]})` };
  }
  const stringy = field.kind === 'string' || field.kind === 'path' || field.kind === 'enum';
  if (stringy && raw !== '' && (typeof value === 'number' || typeof value === 'boolean' || value === null)) value = raw;
  return { section, key, value };
}

/** Commander option collector for a repeatable `--set`: `.option('--set <k=v>', '...', collectSet, [])`. */
export function collectSet(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
