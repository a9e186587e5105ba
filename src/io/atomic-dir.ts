import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LoraRouteError } from '../errors.js';
import { syncDir, tempPath, testKillPoint, TEMP_NAME, writeError } from './atomic.js';

/**
 * Published folders (RUN/best_model, RUN/phase1/<expert>, OUT/adapter, ...) are symlinks to complete, never
 * changed, versioned folders next to them:
 *
 *   best_model -> .best_model.v7        (relative, so the run folder can be moved or copied)
 *   .best_model.v7/                     the current version
 *   .best_model.v6/                     the previous one, kept for readers that resolved the link just before
 *
 * A new version is written under a temporary name, renamed to `.NAME.v<N>`, and published by renaming a new
 * symlink over NAME: one rename(2), so NAME always resolves to a complete folder, before and after.
 */
const VERSION = /^\.(.+)\.v(\d+)$/;
const versionName = (name: string, n: number) => `.${name}.v${n}`;

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/** The version folder a published link points at (its name), or null when `dir` is no such link. */
function currentVersion(dir: string): string | null {
  const st = lstatOrNull(dir);
  if (!st?.isSymbolicLink()) return null;
  const target = readlinkSync(dir);
  const m = VERSION.exec(target);
  return m && m[1] === basename(dir) ? target : null;
}

/** Version numbers of `name` present in `parent`. */
function versionsOf(parent: string, name: string): number[] {
  const out: number[] = [];
  for (const f of readdirSync(parent)) {
    const m = VERSION.exec(f);
    if (m && m[1] === name) out.push(Number(m[2]));
  }
  return out;
}

/**
 * Replaces the folder `dir` as one atomic step: `writeInto(tmp)` fills a fresh empty folder, which becomes the
 * new version of `dir` only once it returned. If it throws (a full disk included), the temporary is removed,
 * `dir` keeps its previous content and the error names the path. A `dir` that is still a plain folder (written
 * by an older loraroute) is first moved to a version of its own.
 */
export function replaceDirAtomic(dir: string, writeInto: (tmp: string) => void): void {
  const parent = dirname(dir);
  const name = basename(dir);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (err) {
    throw writeError(parent, err);
  }
  const st = lstatOrNull(dir);
  if (st && !st.isSymbolicLink() && !st.isDirectory()) throw new LoraRouteError(`${dir} exists and is not a folder; expected a folder loraroute writes`);
  const n = Math.max(0, ...versionsOf(parent, name)) + 1;
  if (st?.isDirectory()) {
    // legacy plain folder: becomes version n (the one moment its name is briefly missing)
    renameSync(dir, join(parent, versionName(name, n)));
    symlinkSync(versionName(name, n), dir, 'dir');
    replaceDirAtomic(dir, writeInto);
    return;
  }
  const previous = currentVersion(dir);
  const version = versionName(name, n);
  const tmp = tempPath(join(parent, version));
  const link = tempPath(join(parent, `.${name}.link`));
  try {
    mkdirSync(tmp);
    writeInto(tmp);
    syncDir(tmp);
    renameSync(tmp, join(parent, version));
    testKillPoint('replace-dir'); // a complete version, not yet published
    symlinkSync(version, link, 'dir');
    renameSync(link, dir);
  } catch (err) {
    for (const p of [tmp, link, join(parent, version)]) rmSync(p, { recursive: true, force: true });
    throw writeError(tmp, err);
  }
  syncDir(parent);
  for (const v of versionsOf(parent, name)) {
    const old = versionName(name, v);
    if (old !== version && old !== previous) rmSync(join(parent, old), { recursive: true, force: true });
  }
}

/**
 * Removes what an interrupted run of loraroute left under `root` (a run folder): temporaries matching
 * TEMP_NAME, and version folders no published link uses (a link keeps only its current version). Nothing
 * else is touched; symlinks and version folders are not descended into.
 */
export function cleanStaleTemps(root: string, depth = 4): string[] {
  const removed: string[] = [];
  const walk = (dir: string, level: number) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    const inUse = new Set(names.map((f) => currentVersion(join(dir, f))).filter((v): v is string => v !== null));
    for (const f of names) {
      const p = join(dir, f);
      const st = lstatOrNull(p);
      if (!st) continue;
      const stale = TEMP_NAME.test(f) || (VERSION.test(f) && st.isDirectory() && !inUse.has(f));
      if (stale) {
        rmSync(p, { recursive: true, force: true });
        removed.push(p);
      } else if (st.isDirectory() && !VERSION.test(f) && level < depth) {
        walk(p, level + 1);
      }
    }
  };
  walk(root, 0);
  return removed;
}
