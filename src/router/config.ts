import { check } from '../errors.js';

/** Hidden-layer non-linearity. `gelu` is the tanh approximation GPT-2 uses ("gelu_new"). */
export type RouterActivation = 'gelu' | 'relu';

/**
 * Shape and regularisation of the router MLP: `inputDim → hiddenDim → numExperts` (+ an optional
 * `hiddenDim → 1` side head that regresses the complexity score).
 */
export interface RouterConfig {
  /** Length of one input row: features F (+ pooled hidden state H when used). */
  inputDim: number;
  /** Width of the hidden layer (256 in the original system). */
  hiddenDim: number;
  /** K, the number of experts (3 by default). */
  numExperts: number;
  /** Dropout probability applied to the hidden activations in training (0 = none). */
  dropout: number;
  /** Default 'gelu': smooth, so finite-difference checks and small-data training behave; 'relu' as the original. */
  activation?: RouterActivation;
  /** Add a side output that predicts the complexity score (trained with MSE when asked). Default false. */
  scoreHead?: boolean;
}

/** The config with defaults filled in. */
export type ResolvedRouterConfig = Required<RouterConfig>;

/** Fills defaults and checks every field; throws LoraRouteError naming the bad key. */
export function resolveRouterConfig(cfg: RouterConfig, where = 'router config'): ResolvedRouterConfig {
  const posInt = (v: unknown, key: string): void =>
    check(Number.isInteger(v) && (v as number) > 0, `${where}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  posInt(cfg.inputDim, 'inputDim');
  posInt(cfg.hiddenDim, 'hiddenDim');
  posInt(cfg.numExperts, 'numExperts');
  check(
    typeof cfg.dropout === 'number' && cfg.dropout >= 0 && cfg.dropout < 1,
    `${where}: "dropout" must be a number in [0, 1), got ${JSON.stringify(cfg.dropout)}`,
  );
  const activation = cfg.activation ?? 'gelu';
  check(activation === 'gelu' || activation === 'relu', `${where}: "activation" must be "gelu" or "relu", got ${JSON.stringify(activation)}`);
  const scoreHead = cfg.scoreHead ?? false;
  check(typeof scoreHead === 'boolean', `${where}: "scoreHead" must be a boolean, got ${JSON.stringify(scoreHead)}`);
  return { inputDim: cfg.inputDim, hiddenDim: cfg.hiddenDim, numExperts: cfg.numExperts, dropout: cfg.dropout, activation, scoreHead };
}
