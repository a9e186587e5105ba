import { LoraRouteError } from '../errors.js';
import { topKRenormalised } from '../router/router.js';
import { argmaxRows } from '../router/loss.js';

/**
 * How router probabilities become adapter gates at inference. Gates have K columns for the experts, plus one
 * for the shared warm-start LoRA (column K) when the system has one.
 *   top1      the most probable expert
 *   topk      the k most probable, renormalised
 *   soft      every expert weighted by its probability (what phase 3 trains)
 *   fallback  the most probable expert when its probability exceeds τ, else the shared LoRA
 */
export type PolicyKind = 'top1' | 'topk' | 'soft' | 'fallback';

export interface RoutingPolicy {
  kind: PolicyKind;
  /** topk: experts mixed. */
  k?: number;
  /** fallback: τ. */
  tau?: number;
}

export function describePolicy(p: RoutingPolicy): string {
  if (p.kind === 'topk') return `top-${p.k} renormalised mix`;
  if (p.kind === 'fallback') return `top-1 when its probability > τ = ${(p.tau ?? 0).toFixed(3)}, else the shared LoRA`;
  if (p.kind === 'soft') return 'soft mix of all experts by router probability';
  return 'top-1 expert';
}

/** Hard policies pick one adapter per row (an expert, or K = the shared LoRA); soft ones mix. */
export function isHard(p: RoutingPolicy): boolean {
  return p.kind === 'top1' || p.kind === 'fallback' || (p.kind === 'topk' && p.k === 1);
}

/** The row maximum of probs [B, K]: the router's confidence. */
export function topProbability(probs: Float32Array, B: number, K: number): Float32Array {
  return Float32Array.from({ length: B }, (_, b) => {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, probs[b * K + k]);
    return m;
  });
}

/** One adapter per row of a hard policy: an expert in [0, K) or K for the shared LoRA. */
export function hardChoices(probs: Float32Array, B: number, K: number, p: RoutingPolicy): Int32Array {
  if (!isHard(p)) throw new LoraRouteError(`routing policy ${p.kind} mixes experts; it has no single choice per row`);
  const top = argmaxRows(probs, B, K);
  if (p.kind !== 'fallback') return top;
  const tau = p.tau ?? 0;
  const conf = topProbability(probs, B, K);
  return Int32Array.from(top, (k, b) => (conf[b] > tau ? k : K));
}

/** Gates [B, K + (withShared ? 1 : 0)] of a policy. */
export function policyGates(probs: Float32Array, B: number, K: number, p: RoutingPolicy, withShared: boolean): Float32Array {
  if (p.kind === 'fallback' && !withShared) throw new LoraRouteError('routing policy fallback needs a shared warm-start LoRA (training.shared_epochs > 0)');
  const W = K + (withShared ? 1 : 0);
  const g = new Float32Array(B * W);
  if (isHard(p)) {
    hardChoices(probs, B, K, p).forEach((k, b) => { g[b * W + k] = 1; });
  } else if (p.kind === 'soft') {
    for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) g[b * W + k] = probs[b * K + k];
  } else {
    const k = p.k ?? 1;
    const top = topKRenormalised(probs, B, K, k);
    for (let b = 0; b < B; b++) for (let j = 0; j < k; j++) g[b * W + top.experts[b * k + j]] = top.weights[b * k + j];
  }
  return g;
}

/** The policy a config names (routing_policy must be resolved, not `auto`). */
export function policyOfConfig(g: { routing_policy: string; top_k_experts: number; fallback_threshold: number }, K: number): RoutingPolicy {
  switch (g.routing_policy) {
    case 'top1': return { kind: 'top1' };
    case 'topk': return g.top_k_experts <= 1 ? { kind: 'top1' } : { kind: 'topk', k: Math.min(g.top_k_experts, K) };
    case 'soft': return { kind: 'soft' };
    case 'fallback': return { kind: 'fallback', tau: g.fallback_threshold };
    default: throw new LoraRouteError(`generation.routing_policy: ${JSON.stringify(g.routing_policy)} is not resolved (expected top1, topk, soft or fallback in a trained model's config)`);
  }
}
