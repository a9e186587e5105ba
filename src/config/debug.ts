/**
 * `--debug`: shrink any run to a smoke test (seconds to a few minutes) that still goes through every phase,
 * evaluation and generation. One table, so docs/config.md lists exactly what changes.
 */
import type { Config, ConfigKey } from './schema.js';

/**
 * `atMost`: min(value, n). `limit`: for keys where 0 means "all" / "no cap": 0 becomes n, else min(value, n).
 * `set`: exactly n.
 */
export type ShrinkRule = { key: ConfigKey; atMost: number } | { key: ConfigKey; limit: number } | { key: ConfigKey; set: number };

export const DEBUG_SHRINK: readonly ShrinkRule[] = [
  { key: 'data.train_subset', limit: 64 },
  { key: 'data.validation_subset', limit: 16 },
  { key: 'data.test_subset', limit: 16 },
  { key: 'data.max_length', atMost: 96 }, // the Alpaca template alone takes ~40 tokens
  { key: 'training.num_epochs', atMost: 1 }, // 0 (experts trained only in phase 3) stays 0
  { key: 'training.shared_epochs', atMost: 1 },
  { key: 'training.router_epochs', atMost: 1 },
  { key: 'training.joint_epochs', atMost: 1 },
  { key: 'training.max_steps', limit: 8 },
  { key: 'training.warmup_steps', atMost: 2 },
  { key: 'training.eval_every', set: 0 },
  { key: 'training.save_every', set: 0 },
  { key: 'training.log_every', set: 1 },
  { key: 'eval.subset', atMost: 16 },
  { key: 'eval.bootstrap_samples', atMost: 100 },
  { key: 'generation.max_new_tokens', atMost: 16 },
];

/** A copy of `config` shrunk by DEBUG_SHRINK; still valid (a test checks it). */
export function debugShrink(config: Config): Config {
  const out = structuredClone(config) as unknown as Record<string, Record<string, number>>;
  for (const rule of DEBUG_SHRINK) {
    const [s, k] = rule.key.split('.');
    const v = out[s][k];
    if ('set' in rule) out[s][k] = rule.set;
    else if ('limit' in rule) out[s][k] = v === 0 ? rule.limit : Math.min(v, rule.limit);
    else out[s][k] = Math.min(v, rule.atMost);
  }
  return out as unknown as Config;
}

/** The rule in words, for docs/config.md. */
export function describeShrinkRule(rule: ShrinkRule): string {
  if ('set' in rule) return `\`${rule.key}\` = ${rule.set}`;
  if ('limit' in rule) return `\`${rule.key}\` at most ${rule.limit} (its 0, meaning all or no cap, becomes ${rule.limit})`;
  return `\`${rule.key}\` at most ${rule.atMost}`;
}
