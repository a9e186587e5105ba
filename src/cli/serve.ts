import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import type { BackendName } from '../tensor/select.js';
import { intArg, repeatable } from './options.js';

interface ServeFlags {
  modelDir?: string;
  model?: string;
  adapter: string[];
  host: string;
  port: number;
  maxBatch: number;
  maxQueue: number;
  apiKey?: string;
  backend: BackendName;
  fp32Weights?: boolean;
  graceMs: number;
  prefixCacheMb: number;
}

/** NAME=DIR → {name, dir} */
function adapterSpec(s: string): { name: string; dir: string } {
  const i = s.indexOf('=');
  if (i <= 0 || i === s.length - 1) throw new InvalidArgumentError(`--adapter must be NAME=DIR (a PEFT adapter folder), got "${s}"`);
  return { name: s.slice(0, i), dir: s.slice(i + 1) };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a trained run (or a plain GPT-2) over an OpenAI-compatible HTTP API, with a playground at /')
    .option('--model-dir <dir>', 'a trained loraroute folder (RUN/best_model): auto routing, experts, one_lora, base')
    .option('--model <dir>', 'a Hugging Face GPT-2 folder: alone, a plain model; with --model-dir, the base to use')
    .option('--adapter <name=dir>', 'an extra PEFT adapter served as model NAME (repeatable)', repeatable, [])
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0 = any free one)', intArg('--port', 0), 8080)
    .option('--max-batch <n>', 'sequences decoded together at most', intArg('--max-batch', 1), 16)
    .option('--max-queue <n>', 'requests waiting for a batch row at most (then 429)', intArg('--max-queue', 0), 64)
    .option('--api-key <key>', 'require "Authorization: Bearer KEY" on /v1/* (default: any or none accepted)')
    .option('--grace-ms <n>', 'on SIGTERM/SIGINT: how long running requests may finish', intArg('--grace-ms', 0), 10_000)
    .option('--prefix-cache-mb <n>', 'MiB of recent prompts\' keys and values kept for prompts that start the same way (0 = none; with the fp16 weights)', intArg('--prefix-cache-mb', 0), 64)
    .addOption(new Option('--backend <name>', 'compute backend').choices(['auto', 'native', 'reference']).default('auto'))
    .option('--fp32-weights', 'decode with the fp32 weights and an fp32 KV cache (default on the native backend: an fp16 copy and fp16 keys and values)')
    .action(async (flags: ServeFlags) => {
      // loaded only for `serve`: the HTTP stack (and the WebAssembly that Node's HTTP parser reserves) stays
      // out of every other command's start-up and address space
      const { ModelRegistry, startServer } = await import('../server/server.js');
      const reg = ModelRegistry.load({
        modelDir: flags.modelDir, model: flags.model, adapters: flags.adapter.map(adapterSpec), backend: flags.backend, fp32Weights: flags.fp32Weights,
      });
      const server = await startServer(reg, { host: flags.host, port: flags.port, maxBatch: flags.maxBatch, maxQueue: flags.maxQueue, apiKey: flags.apiKey,
        prefixCacheBytes: flags.prefixCacheMb * 2 ** 20,
      });
      process.stdout.write(`loraroute serve: listening on ${server.url} (models: ${reg.list().map((e) => e.id).join(', ')}; ${reg.model.backend.name} backend)\n`);
      const stop = (sig: string) => {
        process.stdout.write(`loraroute serve: ${sig}: finishing running requests, then exiting\n`);
        server.close(flags.graceMs).then(() => process.exit(0), (e: unknown) => { console.error(e); process.exit(1); });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
