#!/usr/bin/env node
// Fits the syntax regressions of src/complexity/syntax.ts on UD English EWT gold trees and writes
// src/complexity/syntax-model.generated.ts. Offline tool: the product never reads the treebank.
//
//   npm run build && node scripts/fit-syntax-model.mjs [UD_DIR]     (default UD_DIR: ../shared/data/ud-english-ewt)
//
// Inputs come from wink-nlp run on each sentence's raw `# text` (what the analyzer sees at inference);
// targets come from the gold tree: depth = longest root-to-token path counting the root as 1; clauses =
// tokens attached as root/ccomp/xcomp/advcl/acl/csubj/parataxis (any subtype) plus verbal conj (a VERB or a
// token with a subject); subordinate = the ccomp/xcomp/advcl/acl/csubj ones. Ridge regression (lambda 1,
// bias not penalised) on train; Pearson r reported on dev and test.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { Nlp } = await import(join(root, 'dist/src/complexity/nlp.js'));
const { syntaxInputs, SYNTAX_INPUT_NAMES } = await import(join(root, 'dist/src/complexity/syntax.js'));
const udDir = process.argv[2] ?? join(root, '../shared/data/ud-english-ewt');
const LAMBDA = 1;

function readConllu(path) {
  const out = [];
  let cur = null;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.startsWith('# text = ')) cur = { text: line.slice(9), rows: [] };
    else if (line.startsWith('#')) continue;
    else if (line.trim() === '') {
      if (cur && cur.rows.length) out.push(cur);
      cur = null;
    } else if (cur) {
      const c = line.split('\t');
      if (!/^\d+$/.test(c[0])) continue; // multiword tokens (1-2) and empty nodes (1.1)
      cur.rows.push({ id: Number(c[0]), upos: c[3], head: Number(c[6]), rel: c[7] });
    }
  }
  return out;
}

const CLAUSE = new Set(['root', 'ccomp', 'xcomp', 'advcl', 'acl', 'csubj', 'parataxis']);
const SUBORDINATE = new Set(['ccomp', 'xcomp', 'advcl', 'acl', 'csubj']);

function goldTargets(s) {
  const depth = new Map();
  const byId = new Map(s.rows.map((r) => [r.id, r]));
  const d = (id) => {
    if (id === 0) return 0;
    if (depth.has(id)) return depth.get(id);
    depth.set(id, 0); // guards against a malformed cycle
    const v = 1 + d(byId.get(id)?.head ?? 0);
    depth.set(id, v);
    return v;
  };
  let max = 0;
  for (const r of s.rows) max = Math.max(max, d(r.id));
  const hasSubject = new Set(s.rows.filter((r) => /^(nsubj|csubj)/.test(r.rel)).map((r) => r.head));
  let clauses = 0;
  let subordinate = 0;
  for (const r of s.rows) {
    const base = r.rel.split(':')[0];
    if (CLAUSE.has(base) || (base === 'conj' && (r.upos === 'VERB' || hasSubject.has(r.id)))) clauses++;
    if (SUBORDINATE.has(base)) subordinate++;
  }
  return { depth: max, clauses, subordinate };
}

function solve(A, b) {
  const n = b.length;
  for (let i = 0; i < n; i++) {
    let m = i;
    for (let k = i + 1; k < n; k++) if (Math.abs(A[k][i]) > Math.abs(A[m][i])) m = k;
    [A[i], A[m]] = [A[m], A[i]];
    [b[i], b[m]] = [b[m], b[i]];
    for (let k = i + 1; k < n; k++) {
      const f = A[k][i] / A[i][i];
      for (let j = i; j < n; j++) A[k][j] -= f * A[i][j];
      b[k] -= f * b[i];
    }
  }
  const x = new Array(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let j = i + 1; j < n; j++) s -= A[i][j] * x[j];
    x[i] = s / A[i][i];
  }
  return x;
}

function ridge(X, y, lambda) {
  const d = X[0].length;
  const A = Array.from({ length: d }, () => new Array(d).fill(0));
  const b = new Array(d).fill(0);
  X.forEach((x, r) => {
    for (let i = 0; i < d; i++) {
      b[i] += x[i] * y[r];
      for (let j = 0; j < d; j++) A[i][j] += x[i] * x[j];
    }
  });
  for (let i = 1; i < d; i++) A[i][i] += lambda;
  return solve(A, b);
}

function pearson(a, b) {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

const nlp = new Nlp();
const load = (split) => {
  const sents = readConllu(join(udDir, `en_ewt-ud-${split}.conllu`));
  return { X: sents.map((s) => Array.from(syntaxInputs(nlp.parse(s.text)))), Y: sents.map(goldTargets) };
};
const data = { train: load('train'), dev: load('dev'), test: load('test') };
const model = { inputs: SYNTAX_INPUT_NAMES };
const fit = {};
for (const key of ['depth', 'clauses', 'subordinate']) {
  const w = ridge(data.train.X, data.train.Y.map((t) => t[key]), LAMBDA);
  model[key] = w.map((v) => Number(v.toPrecision(6)));
  const predict = (x) => x.reduce((s, v, i) => s + v * w[i], 0);
  fit[key] = {
    r_dev: Number(pearson(data.dev.X.map(predict), data.dev.Y.map((t) => t[key])).toFixed(4)),
    r_test: Number(pearson(data.test.X.map(predict), data.test.Y.map((t) => t[key])).toFixed(4)),
    r_test_words_only: Number(pearson(data.test.X.map((x) => x[1]), data.test.Y.map((t) => t[key])).toFixed(4)),
  };
}
const sizes = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.X.length]));
const out = `// Generated by scripts/fit-syntax-model.mjs from UD English EWT (${JSON.stringify(sizes)} sentences); do not edit.
// Pearson r of each regression against the gold trees (and of the word count alone, for comparison):
// ${JSON.stringify(fit)}
export const SYNTAX_MODEL = ${JSON.stringify({ ...model, fit }, null, 2)} as const;
`;
writeFileSync(join(root, 'src/complexity/syntax-model.generated.ts'), out);
console.log(JSON.stringify({ sizes, fit }, null, 2));
