import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { LoraRouteModel } from '../system/routed-model.js';
import { useHalfWeightsForDecode } from '../model/load.js';
import type { TrainSystemResult } from '../system/pipeline.js';

/** A few test-style instructions of growing complexity, routed and answered by the trained model. */
export const SAMPLE_INSTRUCTIONS = [
  { instruction: 'Name three primary colors.' },
  { instruction: 'Give three tips for staying healthy.' },
  { instruction: 'Rewrite the following sentence in the passive voice.', input: 'The committee approved the new budget after a long debate.' },
  {
    instruction:
      'Explain how a bill becomes a law in the United States, describing the role of each chamber of Congress and of the President, and note what happens if the President vetoes it.',
  },
];

/** After `train`: evaluate the best model on the test split and print sample generations with their routing. */
export async function afterTraining(r: TrainSystemResult, o: { eval: boolean; samples: boolean; model?: string; data?: string[] }): Promise<void> {
  if (o.eval) {
    const { runEvaluate } = await import('../system/evaluate-command.js');
    const { markdown } = await runEvaluate({ modelDir: r.bestModel, model: o.model, data: o.data, out: join(r.out, 'report') });
    process.stdout.write(markdown + '\n');
  }
  if (o.samples) {
    const sys = LoraRouteModel.fromPretrained(r.bestModel, { model: o.model });
    useHalfWeightsForDecode(sys.model);
    const out = sys.generate(SAMPLE_INSTRUCTIONS, { maxNewTokens: 48 });
    writeFileAtomic(join(r.out, 'samples.json'), JSON.stringify(out, null, 2) + '\n');
    for (const s of out) {
      const instr = s.prompt.split('### Instruction:\n')[1]?.split('\n\n')[0] ?? s.prompt;
      process.stdout.write(`\n[${s.routing.expertName} · score ${s.routing.score.toFixed(2)} · p=${s.routing.probabilities.map((p) => p.toFixed(2)).join('/')}] ${instr}\n→ ${s.text.trim()}\n`);
    }
  }
}
