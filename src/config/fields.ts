/**
 * Field builders for the config schema. Each builder returns a `Field<T>`: the key's value type `T` (from
 * which the `Config` type is derived), its default, its allowed range or values, a one-line doc, and a
 * `parse` that checks an untyped value (from YAML or `--set`) against all of that.
 * Validation messages and docs/config.md are both generated from these objects, so they cannot disagree.
 */

import { quoteValue } from '../io/user-file.js';

export type FieldKind = 'integer' | 'number' | 'boolean' | 'string' | 'path' | 'enum' | 'number[]' | 'string[]' | 'path[]';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface Field<T> {
  readonly kind: FieldKind;
  readonly default: T;
  /** One line: what the key does. */
  readonly doc: string;
  /** Allowed values or range in words, e.g. ">= 1", "[0, 1)", "one of `cosine`, `linear`"; '' when any value of the type is fine. */
  readonly allowed: string;
  /** Enum values (kind 'enum'), for docs and did-you-mean hints. */
  readonly values?: readonly string[];
  /** Checks type and range; never throws. */
  parse(value: unknown): ParseResult<T>;
}

/** `got ...` text for an error message: the type and the value as given (cut short: a 50 MB value is not echoed). */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'an empty value';
  if (Array.isArray(v)) return `a list ${quoteValue(v)}`;
  if (typeof v === 'object') return `a mapping ${quoteValue(v)}`;
  if (typeof v === 'string') return `string ${quoteValue(v)}`;
  return `${typeof v} ${String(v)}`;
}

interface Bounds {
  min?: number;
  max?: number;
  /** Make the bound strict: `min < v` instead of `min <= v`. */
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

function rangeText(b: Bounds): string {
  const { min, max } = b;
  if (min !== undefined && max !== undefined) {
    return `${b.minExclusive ? '(' : '['}${formatNumber(min)}, ${formatNumber(max)}${b.maxExclusive ? ')' : ']'}`;
  }
  if (min !== undefined) return `${b.minExclusive ? '>' : '>='} ${formatNumber(min)}`;
  if (max !== undefined) return `${b.maxExclusive ? '<' : '<='} ${formatNumber(max)}`;
  return '';
}

function inBounds(v: number, b: Bounds): boolean {
  if (b.min !== undefined && (b.minExclusive ? !(v > b.min) : !(v >= b.min))) return false;
  if (b.max !== undefined && (b.maxExclusive ? !(v < b.max) : !(v <= b.max))) return false;
  return true;
}

/** Numbers as a person writes them: 2e-4 rather than 0.0002. */
export function formatNumber(v: number): string {
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential();
  return String(v);
}

function expectedNumber(kind: 'integer' | 'number', b: Bounds): string {
  const r = rangeText(b);
  const noun = kind === 'integer' ? 'an integer' : 'a number';
  if (!r) return noun;
  return r.startsWith('(') || r.startsWith('[') ? `${noun} in ${r}` : `${noun} ${r}`;
}

function numberField(kind: 'integer' | 'number', o: Bounds & { default: number; doc: string }): Field<number> {
  const expected = expectedNumber(kind, o);
  return {
    kind,
    default: o.default,
    doc: o.doc,
    allowed: rangeText(o),
    parse(v) {
      if (typeof v !== 'number' || !Number.isFinite(v) || (kind === 'integer' && !Number.isInteger(v))) {
        return { ok: false, problem: `expected ${expected}, got ${describeValue(v)}` };
      }
      if (!inBounds(v, o)) return { ok: false, problem: `expected ${expected}, got ${formatNumber(v)}` };
      return { ok: true, value: v };
    },
  };
}

export function int(o: Bounds & { default: number; doc: string }): Field<number> {
  return numberField('integer', o);
}

export function num(o: Bounds & { default: number; doc: string }): Field<number> {
  return numberField('number', o);
}

export function bool(o: { default: boolean; doc: string }): Field<boolean> {
  return {
    kind: 'boolean',
    default: o.default,
    doc: o.doc,
    allowed: '',
    parse(v) {
      if (typeof v !== 'boolean') return { ok: false, problem: `expected a boolean (true or false), got ${describeValue(v)}` };
      return { ok: true, value: v };
    },
  };
}

/**
 * A non-empty string. With `path: true` it names a file or folder: relative paths are resolved against the
 * config file's folder (see paths.ts); `keep` lists words that are not paths (e.g. `bundled`).
 */
export function str(o: { default: string; doc: string; path?: boolean; keep?: readonly string[] }): Field<string> {
  return {
    kind: o.path ? 'path' : 'string',
    default: o.default,
    doc: o.doc,
    allowed: o.keep?.length ? `a path, or ${o.keep.map((k) => `\`${k}\``).join(', ')}` : o.path ? 'a path' : 'non-empty',
    parse(v) {
      if (typeof v !== 'string') return { ok: false, problem: `expected a string, got ${describeValue(v)}` };
      if (v.trim() === '') return { ok: false, problem: 'expected a non-empty string, got ""' };
      return { ok: true, value: v };
    },
  };
}

export function oneOf<const V extends readonly [string, ...string[]]>(values: V, o: { default: V[number]; doc: string }): Field<V[number]> {
  const list = values.map((v) => `\`${v}\``).join(', ');
  return {
    kind: 'enum',
    default: o.default,
    doc: o.doc,
    allowed: `one of ${list}`,
    values,
    parse(v) {
      if (typeof v !== 'string' || !values.includes(v)) {
        return { ok: false, problem: `expected one of ${values.join(', ')}, got ${describeValue(v)}` };
      }
      return { ok: true, value: v };
    },
  };
}

/** A list of numbers, each within `item` bounds; optionally strictly ascending. */
export function numList(o: { default: number[]; doc: string; item: Bounds; ascending?: boolean }): Field<number[]> {
  const each = expectedNumber('number', o.item).replace(/^a number/, 'numbers');
  const expected = `a list of ${each}${o.ascending ? ', strictly ascending' : ''}`;
  return {
    kind: 'number[]',
    default: o.default,
    doc: o.doc,
    allowed: `each in ${rangeText(o.item)}${o.ascending ? ', strictly ascending' : ''}`,
    parse(v) {
      if (!Array.isArray(v)) return { ok: false, problem: `expected ${expected}, got ${describeValue(v)}${hintList(v)}` };
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x !== 'number' || !Number.isFinite(x) || !inBounds(x, o.item)) {
          return { ok: false, problem: `expected ${expected}, got ${describeValue(v)} (item ${i} is ${describeValue(x)})` };
        }
        if (o.ascending && i > 0 && !(x > (v[i - 1] as number))) {
          return { ok: false, problem: `expected ${expected}, got ${describeValue(v)} (item ${i} is not above item ${i - 1})` };
        }
      }
      return { ok: true, value: [...(v as number[])] };
    },
  };
}

/**
 * A list of non-empty strings. `path: true`: each is a file path. `nonEmpty`: at least one item.
 * `item` checks one item and returns a problem text or undefined.
 */
export function strList(o: {
  default: string[];
  doc: string;
  path?: boolean;
  nonEmpty?: boolean;
  unique?: boolean;
  allowed?: string;
  item?: (s: string) => string | undefined;
}): Field<string[]> {
  const expected = `a ${o.nonEmpty ? 'non-empty ' : ''}list of ${o.path ? 'paths' : 'strings'}`;
  return {
    kind: o.path ? 'path[]' : 'string[]',
    default: o.default,
    doc: o.doc,
    allowed: o.allowed ?? (o.nonEmpty ? 'at least one' : ''),
    parse(v) {
      if (!Array.isArray(v)) return { ok: false, problem: `expected ${expected}, got ${describeValue(v)}${hintList(v)}` };
      if (o.nonEmpty && v.length === 0) return { ok: false, problem: `expected ${expected}, got an empty list` };
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x !== 'string' || x.trim() === '') {
          return { ok: false, problem: `expected ${expected}, got ${describeValue(v)} (item ${i} is ${describeValue(x)})` };
        }
        const bad = o.item?.(x);
        if (bad) return { ok: false, problem: `item ${i} ${quoteValue(x)}: ${bad}` };
        if (o.unique && v.indexOf(x) !== i) return { ok: false, problem: `item ${i} ${quoteValue(x)} is listed twice` };
      }
      return { ok: true, value: [...(v as string[])] };
    },
  };
}

function hintList(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? ` (write a list: [${String(v)}])` : '';
}
