import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { LoraRouteError } from '../errors.js';
import { tempPath } from './atomic.js';

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/**
 * Checks, before any expensive work, that `dir` (given as `label`, e.g. "--out runs/x") can be written: the
 * folder itself or, when it does not exist yet, the nearest existing folder above it takes a probe file (so a
 * read-only file system or a folder without write permission is found, for root too). With `create` the
 * missing folders are then made, one level at a time (Node's recursive mkdir can loop forever on /proc).
 */
export function checkWritableDir(dir: string, label: string, create: boolean): void {
  const missing: string[] = [];
  let d = resolve(dir);
  let st = statOrNull(d);
  while (!st) {
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) throw new LoraRouteError(`${label}: no existing folder above ${dir}`);
    d = up;
    st = statOrNull(d);
  }
  if (!st.isDirectory()) throw new LoraRouteError(`${label}: ${d} is a file, not a folder`);
  const probe = tempPath(join(d, '.loraroute-write-check'));
  try {
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new LoraRouteError(
      missing.length
        ? `${label}: cannot create ${dir}: ${d} is not writable (${code}; a read-only place or no permission); choose a writable folder`
        : `${label}: ${dir} is not writable (${code}; a read-only place or no permission); choose a writable folder`,
      'E_IO',
    );
  }
  if (!create) return;
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statOrNull(m)?.isDirectory()) continue;
      throw new LoraRouteError(`${label}: cannot create ${m} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'E_IO');
    }
  }
}
