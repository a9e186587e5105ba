import { existsSync } from 'node:fs';
import { readUserJson } from '../io/user-file.js';
import { join } from 'node:path';
import { LoraRouteError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';

/**
 * Training budgets in loss tokens of optimiser steps (every token a parameter update was computed from).
 * system_tokens: what the shipped system's parameters were trained with, over every phase (warm start
 * included); one_lora_tokens: what the one-LoRA baseline was allowed (the same, within one step);
 * labelling_tokens: spent only on cross-fitted copies that label the router's training data.
 */
export interface Budget {
  system_tokens: number;
  one_lora_tokens: number | null;
  /** Tokens the baseline had consumed at the checkpoint it keeps (its best validation loss). */
  one_lora_best_tokens: number | null;
  labelling_tokens: number;
  /** The system's tokens by phase. */
  phases: { shared: number; experts: number[]; joint: number };
  /** |one_lora − system| / system. */
  mismatch: number | null;
}

export const BUDGET_FILE = 'budget.json';

export function makeBudget(phases: Budget['phases'], labelling: number, oneLora: { tokens: number; bestTokens: number | null } | null): Budget {
  const system = phases.shared + phases.experts.reduce((a, b) => a + b, 0) + phases.joint;
  return {
    system_tokens: system,
    one_lora_tokens: oneLora?.tokens ?? null,
    one_lora_best_tokens: oneLora?.bestTokens ?? null,
    labelling_tokens: labelling,
    phases,
    mismatch: oneLora && system > 0 ? Math.abs(oneLora.tokens - system) / system : null,
  };
}

export function saveBudget(dir: string, b: Budget): void {
  writeFileAtomic(join(dir, BUDGET_FILE), JSON.stringify(b, null, 2) + '\n');
}

/** The budget kept in a model folder (or its run folder), or null. */
export function loadBudget(modelDir: string): Budget | null {
  for (const file of [join(modelDir, BUDGET_FILE), join(modelDir, '..', BUDGET_FILE)]) {
    if (!existsSync(file)) continue;
    const b = readUserJson(file, 'training budget') as Budget;
    if (typeof b !== 'object' || b === null || typeof b.system_tokens !== 'number') throw new LoraRouteError(`${file}: expected a loraroute budget ({"system_tokens": n, ...})`);
    return b;
  }
  return null;
}
