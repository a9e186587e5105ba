import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

/** The package root (the folder with package.json), from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('loraroute: cannot find the package root from ' + fileURLToPath(import.meta.url));
}

/** The small pretrained GPT-2 shipped with the package (6 layers, width 128, GPT-2 BPE). */
export function bundledModelDir(): string {
  return join(packageRoot(), 'models', 'tiny-gpt2');
}
