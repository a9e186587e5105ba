import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
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
}

const STATE_JSON = 'state.json';
const STATE_TENSORS = 'state.safetensors';

/** Saves parameters and optimiser moments (each file atomically; a shared token ties the pair together). */
export function saveTrainingState(dir: string, name: string, opt: AdamW, pos: LoopPosition, extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  const token = randomUUID();
  const tensors: Parameters<typeof writeSafetensors>[1] = {};
  opt.groups.forEach((g, i) => {
    tensors[`${g.name}.params`] = { dtype: 'F32', shape: [g.params.length], data: g.params };
    tensors[`${g.name}.m`] = { dtype: 'F32', shape: [g.params.length], data: opt.m[i] };
    tensors[`${g.name}.v`] = { dtype: 'F32', shape: [g.params.length], data: opt.v[i] };
  });
  writeSafetensors(join(dir, STATE_TENSORS), tensors, { token, task: name });
  writeFileAtomic(join(dir, STATE_JSON), JSON.stringify({ task: name, token, optimizerStep: opt.step, position: pos, ...extra }, null, 2) + '\n');
}

export function hasTrainingState(dir: string): boolean {
  return existsSync(join(dir, STATE_JSON)) && existsSync(join(dir, STATE_TENSORS));
}

/** Restores what saveTrainingState wrote into the same parameter groups; returns the loop position. */
export function loadTrainingState(dir: string, name: string, opt: AdamW): { position: LoopPosition; extra: Record<string, unknown> } {
  const jsonPath = join(dir, STATE_JSON);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new LoraRouteError(`${jsonPath}: cannot read training state (${(e as Error).message})`);
  }
  if (raw.task !== name) throw new LoraRouteError(`${jsonPath}: state belongs to "${String(raw.task)}", not "${name}"`);
  const file = openSafetensors(join(dir, STATE_TENSORS));
  if (file.metadata.token !== raw.token) {
    throw new LoraRouteError(`${dir}: ${STATE_JSON} and ${STATE_TENSORS} come from different saves (interrupted while saving?)`);
  }
  opt.groups.forEach((g, i) => {
    for (const [key, dst] of [['params', g.params], ['m', opt.m[i]], ['v', opt.v[i]]] as const) {
      const t = file.getF32(`${g.name}.${key}`);
      if (t.length !== dst.length) {
        throw new LoraRouteError(`${join(dir, STATE_TENSORS)}: "${g.name}.${key}" has ${t.length} values, this run needs ${dst.length} (was the config changed?)`);
      }
      dst.set(t);
    }
  });
  opt.step = Number(raw.optimizerStep);
  const { task: _t, token: _k, optimizerStep: _s, position, ...extra } = raw;
  return { position: position as LoopPosition, extra };
}
