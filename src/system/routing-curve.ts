import type { ExampleLoss } from '../train/score.js';

/** One point of a routing curve: the share of prompts sent to experts and the token-weighted loss there. */
export interface CurvePoint {
  share: number;
  loss: number;
}

/**
 * A RouteLLM-style routing curve: the prompts a rule is most confident about go to its chosen expert, the rest
 * to the fallback (the shared LoRA). At share 0 every prompt uses the fallback; at share 1 every prompt uses
 * the rule's choice. perExpert[k][i] is expert k's loss on example i.
 */
export function routingCurve(
  perExpert: ExampleLoss[][], fallback: ExampleLoss[], choice: ArrayLike<number>, confidence: ArrayLike<number>, steps = 20,
): CurvePoint[] {
  const N = fallback.length;
  // most confident first; ties by position so the curve is deterministic
  const order = Array.from({ length: N }, (_, i) => i).sort((a, b) => confidence[b] - confidence[a] || a - b);
  const points: CurvePoint[] = [];
  for (let s = 0; s <= steps; s++) {
    const n = Math.round((s / steps) * N);
    const routed = new Uint8Array(N);
    for (let j = 0; j < n; j++) routed[order[j]] = 1;
    let sum = 0, tokens = 0;
    for (let i = 0; i < N; i++) {
      const l = routed[i] ? perExpert[choice[i]][i] : fallback[i];
      sum += l.lossSum;
      tokens += l.tokens;
    }
    points.push({ share: N ? n / N : 0, loss: tokens ? sum / tokens : 0 });
  }
  return points;
}

/** Share of the gap from `weak` to `oracle` that a loss recovers (RouteLLM's PGR): 0 = no better than weak, 1 = the oracle. */
export function gapRecovered(loss: number, weak: number, oracle: number): number | null {
  return weak > oracle ? (weak - loss) / (weak - oracle) : null;
}

/** The mean PGR over a curve's points (RouteLLM's APGR). */
export function averageGapRecovered(points: CurvePoint[], weak: number, oracle: number): number | null {
  const v = points.map((p) => gapRecovered(p.loss, weak, oracle));
  return v.every((x) => x !== null) && v.length ? (v as number[]).reduce((a, b) => a + b, 0) / v.length : null;
}
