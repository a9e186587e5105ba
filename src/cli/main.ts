import { Command } from 'commander';
import { registerGenerate } from './generate.js';
import { registerFinetune } from './finetune.js';
import { registerTrain } from './train.js';
import { registerAnalyze } from './analyze.js';
import { registerStratify } from './stratify.js';
import { registerEvaluate } from './evaluate.js';
import { registerDoctor } from './doctor.js';

/** Each command lives in its own file and exports one `registerX(program)`; the list below is the whole CLI. */
const commands: Array<(program: Command) => void> = [registerGenerate, registerFinetune, registerTrain, registerAnalyze, registerStratify, registerEvaluate, registerDoctor];

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program.name('loraroute').description('Complexity-aware routing of instructions to LoRA experts on GPT-2 models');
  program.showHelpAfterError();
  for (const register of commands) register(program);
  await program.parseAsync(argv);
}
