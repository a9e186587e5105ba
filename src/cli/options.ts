import { InvalidArgumentError } from 'commander';

/** commander argument parsers that name the option and what was expected. */
export function intArg(name: string, min = 0) {
  return (v: string): number => {
    const n = v.trim() === '' ? NaN : Number(v); // Number('') is 0
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}

export function numArg(name: string, min = -Infinity, max = Infinity) {
  return (v: string): number => {
    const n = v.trim() === '' ? NaN : Number(v); // Number('') is 0
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}], got "${v}"`);
    return n;
  };
}

export function repeatable(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** Ctrl-C: the first asks the training loop to save and stop; a second one exits at once. */
export function interruptSignal(): { interrupted: boolean; dispose: () => void } {
  const state = { interrupted: false, dispose: () => {} };
  const onSigint = () => {
    if (state.interrupted) process.exit(130);
    state.interrupted = true;
    process.stderr.write('\nloraroute: stopping after this step and saving the state (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  state.dispose = () => process.off('SIGINT', onSigint);
  return state;
}
