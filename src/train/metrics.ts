import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeError } from '../io/atomic.js';

/** Appends one JSON object per line to a metrics file (loss curves are read back from it). */
export class MetricsLog {
  constructor(readonly path: string | null) {
    if (path) mkdirSync(dirname(path), { recursive: true });
  }

  write(record: Record<string, unknown>): void {
    if (!this.path) return;
    try {
      appendFileSync(this.path, JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
    } catch (err) {
      throw writeError(this.path, err);
    }
  }
}
