import type { F32 } from '../tensor/backend.js';
import type { LinearModule } from './weights.js';

/** One linear module of one block, where an adapter may add its delta. */
export interface LinearSite {
  layer: number;
  module: LinearModule;
  inDim: number;
  outDim: number;
}

/** What a hook needs to know about the current pass. */
export interface PassInfo {
  B: number; // sequences
  T: number; // rows per sequence in x / y (1 per step when decoding)
  train: boolean;
  /** Dropouts on in this pass. */
  dropout: boolean;
  /** Seed of this pass; hooks derive their dropout seeds from it and the site. */
  seed: number;
  /** A generation pass (through a KV cache: a prefill or a decode step); absent = false. */
  generation?: boolean;
}

/**
 * Adds something to the output of GPT-2's linear layers (LoRA adapters do). The model calls `forward`
 * after the base `y = x W + b` and, in training, `backward` with the gradient of y; the hook accumulates
 * its own parameter gradients and adds its part of dL/dx into dx.
 */
export interface LinearHook {
  applies(module: LinearModule): boolean;
  /** y[B*T, out] += delta(x[B*T, in]) */
  forward(site: LinearSite, x: F32, y: F32, pass: PassInfo): void;
  /** dx[B*T, in] += d delta / dx · dy; parameter (and gate) gradients accumulate in the hook. */
  backward(site: LinearSite, x: F32, dy: F32, dx: F32, pass: PassInfo): void;
}

/** Derives an independent 32-bit seed for one dropout site of one pass. */
export function siteSeed(seed: number, layer: number, slot: number): number {
  let x = (Math.imul(seed >>> 0, 0x85ebca6b) ^ Math.imul(layer + 1, 0xc2b2ae35) ^ Math.imul(slot + 1, 0x27d4eb2f)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  return x >>> 0;
}
