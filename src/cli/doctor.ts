/**
 * `loraroute doctor`: what the engine runs on here — CPU model and instruction sets, the kernel variant in
 * use, the BLAS with its core type (and who chose it), threads — so that a slow machine can be explained.
 * The benches print the same lines (engineReport) at their top.
 */
import type { Command } from 'commander';
import { cpus } from 'node:os';
import { detectCpu, loadNativeBackend, type CpuFeatures, type NativeInfo } from '../tensor/native.js';

export interface EngineReport {
  cpu: string;
  cpuCount: number;
  /** cpuid's view (null where the small cpuid addon is not built) */
  features: CpuFeatures | null;
  /** the native engine (null when it is not available: the reference backend would be used) */
  native: NativeInfo | null;
  node: string;
  /** environment variables that change the engine's choices */
  env: Record<string, string>;
}

const ENV_KEYS = ['LORAROUTE_NATIVE', 'LORAROUTE_ISA', 'LORAROUTE_AMX', 'LORAROUTE_THREADS', 'OPENBLAS_CORETYPE', 'OPENBLAS_NUM_THREADS'];

/** Loads the native backend (if it can be) and describes it. */
export function engineReport(): EngineReport {
  const env: Record<string, string> = {};
  for (const k of ENV_KEYS) {
    const v = process.env[k];
    // OPENBLAS_CORETYPE that loraroute set itself is reported as the core's source instead
    if (v !== undefined && !(k === 'OPENBLAS_CORETYPE' && v === process.env.LORAROUTE_BLAS_CORETYPE)) env[k] = v;
  }
  const native = loadNativeBackend();
  const features = detectCpu();
  return {
    cpu: features?.brand || native?.info().cpu || cpus()[0]?.model || 'unknown',
    cpuCount: cpus().length,
    features,
    native: native?.info() ?? null,
    node: process.version,
    env,
  };
}

/** The instruction sets of interest the CPU has, e.g. "AVX2 FMA F16C AVX-512 F/BW/VL/DQ AVX-512-VNNI AVX-512-BF16". */
function isaList(f: CpuFeatures): string {
  const out: string[] = [];
  if (f.avx2) out.push('AVX2');
  if (f.fma) out.push('FMA');
  if (f.f16c) out.push('F16C');
  const a512 = [['F', f.avx512f], ['BW', f.avx512bw], ['VL', f.avx512vl], ['DQ', f.avx512dq]].filter(([, v]) => v).map(([n]) => n);
  if (a512.length) out.push(`AVX-512${a512.join('/')}`.replace('AVX-512', 'AVX-512 '));
  if (f.avx512vnni) out.push('AVX-512-VNNI');
  if (f.avx512bf16) out.push('AVX-512-BF16');
  if (f.avx512fp16) out.push('AVX-512-FP16');
  if (f.amx) out.push(f.amxInt8 ? 'AMX (INT8)' : 'AMX');
  return out.length ? out.join(' ') : 'SSE2 only';
}

/** The report as lines of text (the benches print these too). */
export function engineLines(r: EngineReport = engineReport()): string[] {
  const lines = [`cpu:     ${r.cpu} (${r.cpuCount} logical CPUs)${r.features ? `; ${isaList(r.features)}` : ''}`];
  const n = r.native;
  if (n) {
    lines.push(`kernels: ${n.isa}${n.isa !== n.cpuIsa ? ` (forced; the CPU has ${n.cpuIsa})` : ' (the widest this CPU has)'}; ` +
      `greedy LM head of a batch: ${n.logitScreen === 'int8' ? `int8 screen + exact logits of the columns it keeps (${n.logitScreenKernel === 'amx' ? 'AMX' : 'AVX-512 VNNI'})` : 'every logit (no AVX-512 VNNI screen)'}; ` +
      `decode attention: ${n.decodeAttention === 'avx512' ? 'AVX-512, 16 keys at a time' : 'small-matmul kernels'}`);
    const src = n.blasCoreSource === 'user' ? 'set by OPENBLAS_CORETYPE' : n.blasCoreSource === 'loraroute' ? 'chosen by loraroute from the ISA' : "OpenBLAS's own detection";
    lines.push(`blas:    ${n.blasConfig}; core ${n.blasCore} (${src})`);
    lines.push(`threads: ${n.threads} (the engine's pool; OpenBLAS runs ${n.blasThreads}); ${n.cpusAvailable} CPUs available to this process`);
  } else {
    lines.push('engine:  native addon not available: the TypeScript reference backend is used (slower)');
  }
  const env = Object.entries(r.env).map(([k, v]) => `${k}=${v}`).join(' ');
  lines.push(`node:    ${r.node}${env ? `; ${env}` : ''}`);
  return lines;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('show what the engine runs on: CPU and instruction sets, kernels, BLAS and its core, threads')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const r = engineReport();
      console.log(opts.json ? JSON.stringify(r, null, 2) : engineLines(r).join('\n'));
    });
}
