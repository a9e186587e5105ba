import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The real executable in child processes: 0 done, 1 internal error with its stack, 2 user error with its message only.
const bin = fileURLToPath(new URL('../../../bin/loraroute.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'loraroute-exit-'));
const STACK = /\n\s+at /;
const literally = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));

function cli(args: string[], opts: { env?: Record<string, string>; preload?: string } = {}) {
  const pre = opts.preload ? ['--import', opts.preload] : [];
  const env = { ...process.env, LORAROUTE_DEBUG: '', ...opts.env };
  const r = spawnSync(process.execPath, [...pre, bin, ...args], { encoding: 'utf8', env, timeout: 600_000 }); // generous: CI machines can be very loaded
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function userError(args: string[], pattern: RegExp): string {
  const r = cli(args);
  assert.equal(r.status, 2, `exit status of loraroute ${args.join(' ')}: ${r.status}\n${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, STACK, 'a user error prints no stack');
  return r.stderr;
}

test('bad options, commander parse errors included, exit 2 with a message naming the option', () => {
  userError(['generate', '--prompt', 'x', '--bogus'], /unknown option '--bogus'/);
  userError(['generate'], /required option '--prompt <text>' not specified/);
  userError(['no-such-command'], /unknown command 'no-such-command'/);
  userError([], /Usage: loraroute/); // no command: the help, as an error
  userError(['generate', '--prompt', 'x', '--max-new-tokens', ''], /--max-new-tokens must be an integer >= 0, got ""/);
  userError(['generate', '--prompt', 'x', '--max-new-tokens', 'ten'], /--max-new-tokens must be an integer >= 0, got "ten"/);
  userError(['generate', '--prompt', 'x', '--backend', 'gpu'], /--backend <name>' argument 'gpu' is invalid/);
});

test('--top-k / --top-p without --temperature are an error naming the option, not silently ignored', () => {
  userError(['generate', '--prompt', 'x', '--top-k', '5'], /--top-k 5 needs sampling: add --temperature/);
  userError(['generate', '--prompt', 'x', '--top-p', '0.9'], /--top-p 0.9 needs sampling/);
  userError(['generate', '--prompt', 'x', '--temperature', '0', '--top-k', '3'], /--top-k 3 needs sampling/);
  userError(['generate', '--prompt', 'x', '--greedy', '--temperature', '0.7'], /--greedy and --temperature 0.7/);
  // with a temperature they are accepted (and the model runs)
  const r = cli(['generate', '--prompt', 'Hello', '--temperature', '0.8', '--top-k', '5', '--top-p', '0.9', '--max-new-tokens', '2', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).token_ids.length <= 2, true);
});

test('a LoraRouteError and a missing or unreadable file exit 2 with the message only; LORAROUTE_DEBUG=1 adds the stack', () => {
  const missing = join(dir, 'missing.jsonl');
  const msg = userError(['analyze', '--data', missing], literally(missing));
  assert.match(msg, /^loraroute: /);
  userError(['analyze'], /analyze: give an instruction TEXT or --data FILE/);
  userError(['train', '--config', dir, '--out', join(dir, 'run')], literally(dir));
  const d = cli(['analyze'], { env: { LORAROUTE_DEBUG: '1' } });
  assert.equal(d.status, 2);
  assert.match(d.stderr, /analyze: give an instruction TEXT/);
  assert.match(d.stderr, STACK, 'LORAROUTE_DEBUG=1 shows the stack of a user error');
  assert.match(d.stderr, /\[E_USER\]/, 'and its code');
});

test('an internal error (a bug) exits 1 with its stack', () => {
  // a preload that breaks stdout makes `analyze` hit a plain TypeError inside the command
  const preload = join(dir, 'break-stdout.mjs');
  writeFileSync(preload, "process.stdout.write = () => { throw new TypeError('stdout is broken for this test'); };\n");
  const r = cli(['analyze', 'Name three colors.'], { preload });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /loraroute: internal error .*TypeError: stdout is broken for this test/);
  assert.match(r.stderr, STACK);
});

test('errors outside the command promise get the same treatment; a LoraRouteError is told by its name and code', () => {
  const late = join(dir, 'late-user-error.mjs');
  // thrown from a timer set when the command first writes (so after the executable has set up its handlers)
  const later = (code: string) => `const w = process.stdout.write.bind(process.stdout);
process.stdout.write = (...a) => { setImmediate(() => { ${code} }); return w(...a); };\n`;
  writeFileSync(late, later("const e = new Error('late error from a listener'); e.name = 'LoraRouteError'; e.code = 'E_DATA'; throw e;"));
  const u = cli(['analyze', 'Name three colors.'], { preload: late });
  assert.equal(u.status, 2, u.stderr);
  assert.match(u.stderr, /^loraroute: late error from a listener\n$/);
  const bug = join(dir, 'late-bug.mjs');
  writeFileSync(bug, later("throw new RangeError('late bug');"));
  const b = cli(['analyze', 'Name three colors.'], { preload: bug });
  assert.equal(b.status, 1, b.stderr);
  assert.match(b.stderr, /internal error .*RangeError: late bug/);
  assert.match(b.stderr, STACK);
});

test('--help and help exit 0', () => {
  for (const args of [['--help'], ['generate', '--help'], ['help', 'train']]) {
    const r = cli(args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /Usage: loraroute/);
  }
});
