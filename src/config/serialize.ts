/** Writing a config as YAML (e.g. the resolved config saved in a run folder), each key with its doc. */
import { Document, isMap, isScalar, isSeq } from 'yaml';
import type { Field } from './fields.js';
import { relativizeConfig } from './paths.js';
import { SCHEMA, SECTIONS, type Config } from './schema.js';

/**
 * The config as commented YAML that `loadConfig` reads back to the same config. With `dir` (the folder the
 * file will be written to), absolute paths are written relative to it where possible, so a run folder names
 * its base model as e.g. `../../models/gpt2`; `bundled` stays `bundled`.
 */
export function serializeConfig(config: Config, dir?: string): string {
  const c = dir === undefined ? config : relativizeConfig(config, dir);
  // Emit sections and keys in schema order, whatever order the object has.
  const ordered: Record<string, Record<string, unknown>> = {};
  for (const s of SECTIONS) {
    ordered[s] = {};
    for (const k of Object.keys(SCHEMA[s])) ordered[s][k] = (c[s] as Record<string, unknown>)[k];
  }
  const doc = new Document(ordered);
  doc.commentBefore =
    ' loraroute run configuration (written by serializeConfig).\n' +
    ' Relative paths are relative to this file. Reference: docs/config.md';
  if (isMap(doc.contents)) {
    for (const pair of doc.contents.items) {
      if (!isScalar(pair.key) || !isMap(pair.value)) continue;
      const section = String(pair.key.value) as keyof typeof SCHEMA;
      pair.key.spaceBefore = true;
      for (const p of pair.value.items) {
        if (!isScalar(p.key)) continue;
        const f = (SCHEMA[section] as Record<string, Field<unknown>>)[String(p.key.value)];
        p.key.commentBefore = ` ${f.doc.replace(/`/g, '')}`;
        if (isSeq(p.value)) p.value.flow = true;
      }
    }
  }
  return doc.toString({ lineWidth: 0 });
}
