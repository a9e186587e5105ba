import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tmpDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'loraroute-config-'));
  made.push(dir);
  return dir;
}

/** Writes `text` as a YAML file in a fresh temporary folder; returns its path. */
export function tmpYaml(text: string, name = 'config.yaml'): string {
  const p = join(tmpDir(), name);
  writeFileSync(p, text);
  return p;
}

/** The message of the error `fn` throws (fails the test if it does not throw a LoraRouteError). */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if ((e as Error).name !== 'LoraRouteError') throw e;
    return (e as Error).message;
  }
  throw new Error('expected a LoraRouteError, nothing was thrown');
}
