import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors, writeSafetensors } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { LoraRouteError } from '../errors.js';
import type { AdamW } from './optimizer.js';

/** Where a training run stands: enough to continue it exactly. */
export interface LoopPosition {
  epoch: number;
  /** Micro-batches of this epoch already done. */
  batchInEpoch: number;
  /** Optimiser steps done. */
  step: number;
  bestValLoss: number | null;
  bestStep: number | null;
  finished: boolean;
  /** Loss tokens of the optimiser steps done (the run's training budget so far). */
  tokens?: number;
  /** Loss tokens at the best validation checkpoint. */
  bestTokens?: number | null;
}

const STATE_JSON = 'state.json';
const STATE_TENSORS = 'state.safetensors';

/**
 * Saves parameters, optimiser moments and the loop position in ONE file written atomically (the position
 * rides in the safetensors metadata), so a crash at any moment leaves either the previous state or the new
 * one. state.json is a human-readable copy of the position, written after; loading never needs it.
 */
export function saveTrainingState(dir: string, name: string, opt: AdamW, pos: LoopPosition, extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Parameters<typeof writeSafetensors>[1] = {};
  opt.groups.forEach((g, i) => {
    tensors[`${g.name}.params`] = { dtype: 'F32', shape: [g.params.length], data: g.params };
    tensors[`${g.name}.m`] = { dtype: 'F32', shape: [g.params.length], data: opt.m[i] };
    tensors[`${g.name}.v`] = { dtype: 'F32', shape: [g.params.length], data: opt.v[i] };
  });
  const state = { task: name, optimizerStep: opt.step, position: pos, ...extra };
  writeSafetensors(join(dir, STATE_TENSORS), tensors, { task: name, state: JSON.stringify(state) });
  writeFileAtomic(join(dir, STATE_JSON), JSON.stringify(state, null, 2) + '\n');
}

export function hasTrainingState(dir: string): boolean {
  return existsSync(join(dir, STATE_TENSORS));
}

/** True when the saved state of `dir` says its run reached its end. */
export function trainingFinished(dir: string): boolean {
  if (!hasTrainingState(dir)) return false;
  try {
    const raw = JSON.parse(openSafetensors(join(dir, STATE_TENSORS)).metadata.state ?? '') as { position?: LoopPosition };
    return raw.position?.finished === true;
  } catch {
    return false;
  }
}

/** Restores what saveTrainingState wrote into the same parameter groups; returns the loop position. */
export function loadTrainingState(dir: string, name: string, opt: AdamW): { position: LoopPosition; extra: Record<string, unknown> } {
  const path = join(dir, STATE_TENSORS);
  const file = openSafetensors(path);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(file.metadata.state ?? '') as Record<string, unknown>;
  } catch (e) {
    throw new LoraRouteError(`${path}: no readable training state in its metadata (${(e as Error).message})`);
  }
  if (raw.task !== name) throw new LoraRouteError(`${path}: state belongs to "${String(raw.task)}", not "${name}"`);
  opt.groups.forEach((g, i) => {
    for (const [key, dst] of [['params', g.params], ['m', opt.m[i]], ['v', opt.v[i]]] as const) {
      const t = file.getF32(`${g.name}.${key}`);
      if (t.length !== dst.length) {
        throw new LoraRouteError(`${path}: "${g.name}.${key}" has ${t.length} values, this run needs ${dst.length} (was the config changed?)`);
      }
      dst.set(t);
    }
  });
  opt.step = Number(raw.optimizerStep);
  const { task: _t, optimizerStep: _s, position, ...extra } = raw;
  return { position: position as LoopPosition, extra };
}
