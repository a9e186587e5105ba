/**
 * Helpers shared by the benches (bench/*.ts): medians, peak RSS, machine load, running one measurement in a
 * child process (ours or a Python peer) and reading its tagged JSON line back, finding a Python that can
 * import the peer's packages, and the `RESULT` lines every bench ends with.
 *
 * A bench measures each side in its own process so that a peak RSS belongs to that side alone; the child
 * prints one line `<TAG> {json}` (TAG = OURS or PEER) and the parent reads the last such line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineLines } from '../src/cli/doctor.js';

/** The repository root, for a bench module at bench/ or dist/bench/ (pass its import.meta.url). */
export function repoRoot(moduleUrl: string): string {
  const here = dirname(fileURLToPath(moduleUrl));
  return existsSync(join(here, '..', 'package.json')) ? resolve(here, '..') : resolve(here, '..', '..');
}

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Peak resident set size of this process in MB (MiB): the larger of getrusage's maxRSS and /proc's VmHWM
 * (the two agree on Linux; either may be missing elsewhere).
 */
export function peakRssMb(): number {
  const fromUsage = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
  let fromProc = 0;
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) fromProc = Number(m[1]) / 1024;
  } catch {
    // no /proc here
  }
  return Math.max(fromUsage, fromProc);
}

/** The 1, 5 and 15 minute load averages, e.g. "0.52 0.61 0.70". */
export function loadAverage(): string {
  return loadavg().map((x) => x.toFixed(2)).join(' ');
}

/** Parses the last line `<tag> {json}` of a child's stdout. */
export function lastTagged<T>(stdout: string, tag: string): T | null {
  const line = stdout.split('\n').reverse().find((l) => l.startsWith(tag + ' '));
  return line ? (JSON.parse(line.slice(tag.length + 1)) as T) : null;
}

/**
 * Runs `cmd args` and reads back its `<tag> {json}` line. A result carrying `error` (the child's way of
 * saying "cannot measure": e.g. a missing import) comes back as `why`, like a crash or a timeout does.
 */
export function runTagged<T extends { error?: string }>(
  cmd: string, args: string[], tag: string, opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): { res: T | null; why: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', timeout: opts.timeoutMs, maxBuffer: 64 << 20, env: opts.env ?? process.env });
  if (r.error) return { res: null, why: r.error.message };
  let res: T | null = null;
  try {
    res = lastTagged<T>(r.stdout ?? '', tag);
  } catch (e) {
    return { res: null, why: `unreadable ${tag} line: ${(e as Error).message}` };
  }
  if (!res) {
    const how = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    return { res: null, why: `${how}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}` };
  }
  if (res.error) return { res: null, why: res.error };
  return { res, why: '' };
}

/**
 * Where a peer's Python may be, in order: $LORAROUTE_PEER_PYTHON; the venv of bench/peer/setup.sh
 * ($LORAROUTE_PEER_VENV, default ~/.cache/loraroute/peer); the shared reference venv /opt/ref-venv; python3.
 */
export function peerPythonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.LORAROUTE_PEER_PYTHON) return [env.LORAROUTE_PEER_PYTHON];
  const venv = env.LORAROUTE_PEER_VENV ?? join(homedir(), '.cache', 'loraroute', 'peer');
  const out = [join(venv, 'bin', 'python'), '/opt/ref-venv/bin/python'].filter((p) => existsSync(p));
  out.push('python3');
  return out;
}

/**
 * The first candidate Python that imports every module in `modules`, or null with the reason each
 * candidate failed (for the "peer not measured" line).
 */
export function findPeerPython(modules: string[], env: NodeJS.ProcessEnv = process.env): { python: string | null; why: string } {
  const tried: string[] = [];
  for (const py of peerPythonCandidates(env)) {
    const r = spawnSync(py, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8', timeout: 120_000 });
    if (!r.error && r.status === 0) return { python: py, why: '' };
    const msg = r.error ? r.error.message : (r.stderr ?? '').trim().split('\n').pop() ?? `exit ${r.status}`;
    tried.push(`${py}: ${msg}`);
  }
  return { python: null, why: tried.join('; ') };
}

export function fmt(x: number | null, digits = 1): string {
  return x === null ? 'none' : x.toFixed(digits);
}

/** `RESULT <name> ours=<n> peer=<n|none> ratio=<ours/peer|none>` */
export function resultLine(name: string, ours: number | null, peer: number | null, digits = 1): string {
  const ratio = ours !== null && peer !== null && peer > 0 ? (ours / peer).toFixed(3) : 'none';
  return `RESULT ${name} ours=${fmt(ours, digits)} peer=${fmt(peer, digits)} ratio=${ratio}`;
}

/** The model shapes a bench can run: GPT-2 124M, or the bundled model's (models/tiny-gpt2). */
export type ShapeName = 'gpt2' | 'tiny';
export interface BenchShape {
  label: string;
  layers: number;
  embd: number;
  heads: number;
  vocab: number;
  positions: number;
  /** training batch: rows x tokens */
  batch: number;
  seq: number;
}
export const SHAPES: Record<ShapeName, BenchShape> = {
  gpt2: { label: 'GPT-2 124M shapes', layers: 12, embd: 768, heads: 12, vocab: 50257, positions: 1024, batch: 4, seq: 128 },
  tiny: { label: "the bundled model's shapes (models/tiny-gpt2)", layers: 6, embd: 128, heads: 4, vocab: 50257, positions: 512, batch: 8, seq: 128 },
};

export function parseShape(v: string, bench: string): ShapeName {
  if (v !== 'gpt2' && v !== 'tiny') throw new Error(`${bench}: --shape must be gpt2 or tiny, got "${v}"`);
  return v;
}

/** The peer scripts' shape arguments. */
export function shapeArgs(s: BenchShape, layers = s.layers): string[] {
  return ['--layers', String(layers), '--embd', String(s.embd), '--heads', String(s.heads), '--vocab', String(s.vocab), '--positions', String(s.positions)];
}

/**
 * `--with-load`: one busy process (a spinning node) started here and kept running while both sides are
 * measured, so that the figures show how each engine copes with a competitor for the cores. stop() kills it.
 */
export function startBusyProcess(): { pid: number; stop: () => void } {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    child.kill('SIGKILL');
  };
  process.once('exit', stop);
  return { pid: child.pid ?? -1, stop };
}

/** The engine header every bench prints: CPU model, ISA, kernels, BLAS and its core, threads. */
export function printEngineHeader(): void {
  for (const line of engineLines()) console.log(line);
}
