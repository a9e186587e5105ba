/** The Stanford Alpaca prompt template, verbatim (the response follows `### Response:\n`). */

const WITH_INPUT =
  'Below is an instruction that describes a task, paired with an input that provides further context. ' +
  'Write a response that appropriately completes the request.\n\n';
const WITHOUT_INPUT = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n';

/** The Alpaca prompt for `instruction` (and `input`, when non-empty), ending with `### Response:\n`. */
export function alpacaPrompt(instruction: string, input?: string): string {
  if (input) return `${WITH_INPUT}### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`;
  return `${WITHOUT_INPUT}### Instruction:\n${instruction}\n\n### Response:\n`;
}

/** The text the complexity analyzer reads: the instruction, plus `"\n\n" + input` when there is an input. */
export function instructionText(instruction: string, input?: string): string {
  return input ? `${instruction}\n\n${input}` : instruction;
}
