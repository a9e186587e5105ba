import type { Command } from 'commander';
import { Option } from 'commander';
import { loadGPT2, useHalfWeightsForDecode } from '../model/load.js';
import { GPT2Tokenizer } from '../tokenizer/gpt2.js';
import { generateText } from '../model/text.js';
import { loadPeftAdapter } from '../lora/peft.js';
import { LoraMixture } from '../lora/mixture.js';
import { alpacaPrompt } from '../data/template.js';
import { bundledModelDir } from '../config/paths.js';
import type { BackendName } from '../tensor/select.js';
import { LoraRouteError } from '../errors.js';
import { intArg, numArg, repeatable } from './options.js';
import { LoraRouteModel } from '../system/routed-model.js';

interface GenerateFlags {
  model?: string;
  prompt: string;
  maxNewTokens: number;
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed: number;
  ignoreEos?: boolean;
  json?: boolean;
  adapter?: string;
  template: 'alpaca' | 'raw';
  stop: string[];
  backend: BackendName;
  modelDir?: string;
  input?: string;
  topKExperts?: number;
  fp32Weights?: boolean;
}

export function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('generate a continuation of a prompt with GPT-2 (and optionally a LoRA adapter)')
    .option('--model <dir>', 'Hugging Face GPT-2 folder (default: the bundled tiny model)')
    .requiredOption('--prompt <text>', 'the prompt, used as given unless --template alpaca')
    .option('--max-new-tokens <n>', 'tokens to generate at most', intArg('--max-new-tokens', 0), 64)
    .option('--greedy', 'always take the most likely token (the default unless --temperature > 0)')
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', numArg('--temperature', 0))
    .option('--top-k <k>', 'sample among the k most likely tokens', intArg('--top-k', 0))
    .option('--top-p <p>', 'nucleus sampling mass', numArg('--top-p', 0, 1))
    .option('--seed <s>', 'sampling seed', intArg('--seed', 0), 0)
    .option('--ignore-eos', 'do not stop at <|endoftext|>')
    .option('--stop <text>', 'stop when the text contains this (repeatable)', repeatable, [])
    .option('--adapter <dir>', 'a PEFT LoRA adapter folder to apply')
    .option('--model-dir <dir>', 'a trained loraroute folder (RUN/best_model): route the prompt to its expert(s); implies --template alpaca')
    .option('--input <text>', 'with --model-dir: the Alpaca input that goes with the instruction')
    .option('--top-k-experts <k>', 'with --model-dir: mix the k most likely experts instead of the served policy (default: the saved config)', intArg('--top-k-experts', 1))
    .addOption(new Option('--template <name>', 'prompt wrapping').choices(['raw', 'alpaca']).default('raw'))
    .addOption(new Option('--backend <name>', 'compute backend').choices(['auto', 'native', 'reference']).default('auto'))
    .option('--fp32-weights', 'decode with the fp32 weights and an fp32 KV cache (default on the native backend: an fp16 copy of the weights and fp16 keys and values, half the memory traffic)')
    .option('--json', 'print one JSON object instead of streaming text')
    .action((flags: GenerateFlags) => {
      checkSampling(flags);
      if (flags.modelDir) return generateRouted(flags);
      const dir = flags.model ?? bundledModelDir();
      const model = loadGPT2(dir, { backend: flags.backend });
      if (!flags.fp32Weights) useHalfWeightsForDecode(model);
      const tokenizer = GPT2Tokenizer.fromDir(dir);
      let hook: LoraMixture | null = null;
      if (flags.adapter) {
        hook = new LoraMixture([loadPeftAdapter(flags.adapter, model.config)], model.backend);
        hook.useOnly(0);
      }
      const prompt = flags.template === 'alpaca' ? alpacaPrompt(flags.prompt) : flags.prompt;
      const greedy = flags.greedy === true || !(flags.temperature && flags.temperature > 0);
      const [result] = generateText(model, tokenizer, [prompt], {
        maxNewTokens: flags.maxNewTokens,
        greedy,
        temperature: flags.temperature,
        topK: flags.topK,
        topP: flags.topP,
        seed: flags.seed,
        stopAtEos: !flags.ignoreEos,
        stopStrings: flags.stop,
        hook,
        onText: flags.json ? undefined : (_row, text) => process.stdout.write(text),
      });
      if (flags.json) {
        process.stdout.write(JSON.stringify({
          prompt, text: result.text, token_ids: result.tokenIds, finish_reason: result.finishReason,
          prompt_tokens: result.promptTokens, model: dir, adapter: flags.adapter ?? null, backend: model.backend.name,
        }) + '\n');
      } else {
        process.stdout.write('\n');
      }
    });
}

/**
 * --top-k and --top-p shape sampling, which only --temperature T > 0 turns on: without it (or with --greedy)
 * they would be silently ignored, so they are an error naming the option.
 */
function checkSampling(flags: GenerateFlags): void {
  const sampling = flags.greedy !== true && flags.temperature !== undefined && flags.temperature > 0;
  if (flags.greedy && flags.temperature !== undefined && flags.temperature > 0) {
    throw new LoraRouteError(`--greedy and --temperature ${flags.temperature} contradict each other: give one`);
  }
  for (const [name, value] of [['--top-k', flags.topK], ['--top-p', flags.topP]] as const) {
    if (value !== undefined && !sampling) {
      throw new LoraRouteError(`${name} ${value} needs sampling: add --temperature T (T > 0); without it generation is greedy and ${name} would be ignored`);
    }
  }
}

/** `generate --model-dir`: analyzer → router → expert(s) → generation, with the routing trace. */
function generateRouted(flags: GenerateFlags): void {
  if (flags.adapter) throw new LoraRouteError('--adapter and --model-dir cannot be combined (a trained folder brings its own experts)');
  const sys = LoraRouteModel.fromPretrained(flags.modelDir as string, { model: flags.model, backend: flags.backend });
  if (!flags.fp32Weights) useHalfWeightsForDecode(sys.model);
  const greedy = flags.greedy === true || !(flags.temperature && flags.temperature > 0);
  const [r] = sys.generate([{ instruction: flags.prompt, input: flags.input }], {
    maxNewTokens: flags.maxNewTokens, greedy, temperature: greedy ? 0 : flags.temperature, topK: flags.topK, topP: flags.topP, seed: flags.seed,
    stopAtEos: !flags.ignoreEos, stopStrings: flags.stop,
    policy: flags.topKExperts === undefined ? undefined : flags.topKExperts > 1 ? { kind: 'topk', k: flags.topKExperts } : { kind: 'top1' },
    onText: flags.json ? undefined : (_row, text) => process.stdout.write(text),
  });
  if (flags.json) {
    process.stdout.write(JSON.stringify({
      prompt: r.prompt, text: r.text, token_ids: r.tokenIds, finish_reason: r.finishReason, prompt_tokens: r.promptTokens,
      routing: r.routing, model_dir: flags.modelDir, backend: sys.model.backend.name,
    }) + '\n');
  } else {
    process.stdout.write(`\n[expert ${r.routing.expertName}; score ${r.routing.score.toFixed(3)}; tier ${r.routing.tier}; ` +
      `p = ${r.routing.probabilities.map((p) => p.toFixed(3)).join(' / ')}]\n`);
  }
}
