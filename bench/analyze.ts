/**
 * Complexity analyzer benchmark: instructions/s over all 52,002 bundled Alpaca records (instruction +
 * input, as the analyzer sees them at inference) and the latency of one `analyze` call (p50 / p99 over
 * every 4th record, timed one by one). Targets: >= 5,000 instructions/s, p50 <= 0.3 ms.
 *
 *   npm run bench:analyze
 */
import { availableParallelism, loadavg } from 'node:os';
import { ComplexityAnalyzer } from '../src/complexity/analyzer.js';
import { defaultDataPaths, loadAlpaca } from '../src/data/alpaca.js';

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const t0 = performance.now();
const analyzer = new ComplexityAnalyzer();
const constructMs = performance.now() - t0;
const { records } = loadAlpaca(defaultDataPaths());

// warm-up (JIT), not timed
for (let i = 0; i < 2000; i++) analyzer.analyze(records[i]!.instruction, records[i]!.input);

let checksum = 0;
const cpu0 = process.cpuUsage();
const t1 = performance.now();
for (const r of records) checksum += analyzer.analyze(r.instruction, r.input).score;
const seconds = (performance.now() - t1) / 1000;
const cpu = process.cpuUsage(cpu0);
// CPU time of this process: on a shared machine it says what the wall clock would be without contention.
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const perSecond = records.length / seconds;

const sample = records.filter((_, i) => i % 4 === 0);
const lat = new Float64Array(sample.length);
sample.forEach((r, i) => {
  const s = process.hrtime.bigint();
  checksum += analyzer.analyze(r.instruction, r.input).score;
  lat[i] = Number(process.hrtime.bigint() - s) / 1e6;
});
lat.sort();
const p50 = quantile(lat, 0.5);
const p99 = quantile(lat, 0.99);

console.log(`analyzer construction: ${constructMs.toFixed(0)} ms (wink-nlp model, CMU dictionary, SUBTLEX list)`);
console.log(`throughput: ${records.length} records in ${seconds.toFixed(2)} s = ${perSecond.toFixed(0)} instructions/s (target >= 5000)`);
console.log(`  process CPU time ${cpuSeconds.toFixed(2)} s = ${(records.length / cpuSeconds).toFixed(0)} instructions per CPU-second; load average ${loadavg().map((v) => v.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
console.log(`latency of one analyze() over ${sample.length} records: p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, max ${lat[lat.length - 1]!.toFixed(3)} ms (target p50 <= 0.3)`);
console.log(`(checksum ${checksum.toFixed(3)})`);
console.log(`RESULT analyze_per_s ours=${perSecond.toFixed(0)} peer=none ratio=none`);
console.log(`RESULT analyze_p50_ms ours=${p50.toFixed(4)} peer=none ratio=none`);
