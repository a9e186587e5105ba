/**
 * Builds a Config from layers — defaults, then a YAML file, then `--set` overrides — checking every value
 * against the schema. Problems are collected (not thrown one at a time) so a user sees all of them at once;
 * each names where it came from (file:line:col or the `--set` text), the full key, what was expected and
 * what was given.
 */
import { LoraRouteError } from '../errors.js';
import { describeValue, type Field } from './fields.js';
import { resolvePath } from './paths.js';
import {
  BUNDLED,
  CROSS_CHECKS,
  SCHEMA,
  SECTIONS,
  allKeys,
  defaultConfig,
  evenThresholds,
  fieldOf,
  type Config,
  type ConfigKey,
} from './schema.js';
import { closest } from './suggest.js';
import { quoteText } from '../io/user-file.js';

/** Suggestion text for an unknown `section.key` (or unknown section, when `key` is undefined). */
export function suggestKey(section: string, key: string | undefined): string {
  const keys = allKeys();
  if (key === undefined) {
    // An unknown section: maybe a misspelt section, or a key written at the top level.
    const s = closest(section, SECTIONS);
    if (s) return `; did you mean '${s}'?`;
    const homes = keys.filter((k) => k.endsWith(`.${section}`));
    if (homes.length > 0) return `; did you mean ${orList(homes.map((k) => `'${k}'`))}? (keys go under their section)`;
    return `; sections are ${SECTIONS.join(', ')}`;
  }
  if (!Object.hasOwn(SCHEMA, section)) {
    const s = closest(section, SECTIONS);
    return s && fieldOf(s, key) ? `; did you mean '${s}.${key}'?` : `; sections are ${SECTIONS.join(', ')}`;
  }
  const own = Object.keys(SCHEMA[section as keyof typeof SCHEMA]);
  const near = closest(key, own);
  if (near) return `; did you mean '${section}.${near}'?`;
  // The right key in the wrong section (`training.lora_rank`), possibly misspelt (`training.lora_rnak`).
  const leaf = (k: string) => k.split('.')[1];
  let homes = keys.filter((k) => leaf(k) === key);
  if (homes.length === 0) {
    const fuzzy = closest(key, keys.map(leaf));
    if (fuzzy) homes = keys.filter((k) => leaf(k) === fuzzy);
  }
  if (homes.length > 0) return `; did you mean ${orList(homes.map((k) => `'${k}'`))}?`;
  return `; keys of '${section}' are ${own.join(', ')}`;
}

export class ConfigBuilder {
  private readonly config: Record<string, Record<string, unknown>>;
  /** Where each key was set (file:line:col or `--set ...`), for messages about several keys. */
  private readonly setAt = new Map<ConfigKey, string>();
  private readonly problems: string[] = [];

  constructor() {
    this.config = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  }

  /** Records a problem found outside a single value (e.g. a YAML syntax error). */
  problem(where: string, text: string): void {
    this.problems.push(`${quoteText(where, 200)}: ${quoteText(text, 600)}`);
  }

  /**
   * Applies a parsed document `{section: {key: value}}`. `where(path)` gives the location of a key path
   * (`['model']`, `['model', 'lora_rank']`); `baseDir` resolves relative paths.
   */
  applyObject(obj: unknown, where: (path: string[]) => string, baseDir: string): void {
    if (obj === null || obj === undefined) return; // an empty file: all defaults
    if (!isMapping(obj)) {
      this.problem(where([]), `expected a mapping of sections (${SECTIONS.join(', ')}), got ${describeValue(obj)}`);
      return;
    }
    for (const [section, body] of Object.entries(obj)) {
      if (!Object.hasOwn(SCHEMA, section)) {
        this.problem(where([section]), `unknown section '${section}'${suggestKey(section, undefined)}`);
        continue;
      }
      if (body === null || body === undefined) continue; // `model:` with nothing under it
      if (!isMapping(body)) {
        this.problem(where([section]), `section '${section}' must be a mapping of keys, got ${describeValue(body)}`);
        continue;
      }
      for (const [key, value] of Object.entries(body)) this.applyValue(section, key, value, where([section, key]), baseDir);
    }
  }

  /** Sets one `section.key`, checking the key exists and the value fits it. */
  applyValue(section: string, key: string, value: unknown, where: string, baseDir: string): void {
    const field = fieldOf(section, key);
    if (!field) {
      this.problem(where, `unknown key '${section}.${key}'${suggestKey(section, key)}`);
      return;
    }
    const r = field.parse(value);
    if (!r.ok) {
      const hint = field.values && typeof value === 'string' ? closest(value, field.values) : undefined;
      this.problem(where, `${section}.${key}: ${r.problem}${hint ? ` (did you mean '${hint}'?)` : ''}`);
      return;
    }
    this.config[section][key] = resolvePaths(field, r.value, baseDir);
    this.setAt.set(`${section}.${key}` as ConfigKey, where);
  }

  /** Fills derived defaults, runs the cross-field checks and returns the config, or throws every problem. */
  /** `shrink` (--debug) is applied after the values are read and before the cross-field checks. */
  finish(label: string, shrink?: (c: Config) => Config): Config {
    let c = this.config as unknown as Config;
    if (this.problems.length === 0 && shrink) c = shrink(c);
    if (this.problems.length === 0) {
      // Thresholds default to [0.3, 0.7] for 3 experts; for another count, to evenly spaced cut points.
      if (!this.setAt.has('model.complexity_thresholds') && c.model.num_experts !== 3) {
        c.model.complexity_thresholds = evenThresholds(c.model.num_experts);
      }
      for (const rule of CROSS_CHECKS) {
        const bad = rule.check(c);
        if (!bad) continue;
        const origins = rule.keys.map((k) => `${k} ${this.setAt.has(k) ? `set at ${this.setAt.get(k)}` : 'default'}`);
        this.problems.push(`${bad} [${origins.join('; ')}]`);
      }
    }
    if (this.problems.length === 1) throw new LoraRouteError(`invalid config (${label}): ${this.problems[0]}`, 'E_CONFIG');
    if (this.problems.length > 1) {
      throw new LoraRouteError(
        `invalid config (${label}), ${this.problems.length} problems:\n${this.problems.map((p) => `  - ${p}`).join('\n')}`,
        'E_CONFIG',
      );
    }
    return c;
  }
}

function orList(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function resolvePaths(field: Field<unknown>, v: unknown, baseDir: string): unknown {
  if (field.kind === 'path' && typeof v === 'string') return v === BUNDLED ? v : resolvePath(v, baseDir);
  if (field.kind === 'path[]' && Array.isArray(v)) return v.map((p: string) => resolvePath(p, baseDir));
  return v;
}
