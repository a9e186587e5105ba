import cliProgress from 'cli-progress';

/** Progress of one training run: a live bar on a terminal, a line every few seconds otherwise (CI, logs). */
export interface Progress {
  start(total: number, label: string): void;
  update(done: number, info: { loss: number; tokensPerSecond: number }): void;
  log(line: string): void;
  /** A warning: shown even when quiet (then as `loraroute: warning: …`). */
  warn(line: string): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) return { start() {}, update() {}, log() {}, warn: (line) => { stream.write(`loraroute: warning: ${line}\n`); }, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: '{label} |{bar}| {value}/{total} steps | loss {loss} | {tps} tok/s | ETA {eta_formatted}',
        stream,
        hideCursor: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    return {
      start: (total, label) => bar.start(total, 0, { label, loss: '-', tps: '-' }),
      update: (done, i) => bar.update(done, { loss: i.loss.toFixed(4), tps: i.tokensPerSecond.toFixed(0) }),
      log: (line) => { bar.stop(); stream.write(line + '\n'); },
      warn: (line) => { bar.stop(); stream.write(`warning: ${line}\n`); },
      stop: () => bar.stop(),
    };
  }
  let label = '';
  let total = 0;
  let t0 = 0;
  let lastPrint = 0;
  return {
    start(n, l) { total = n; label = l; t0 = Date.now(); lastPrint = 0; stream.write(`${label}: ${total} steps\n`); },
    update(done, i) {
      const now = Date.now();
      if (now - lastPrint < 5000 && done < total) return;
      lastPrint = now;
      const eta = done > 0 ? ((now - t0) / done) * (total - done) / 1000 : 0;
      stream.write(`${label}: ${done}/${total} loss ${i.loss.toFixed(4)} ${i.tokensPerSecond.toFixed(0)} tok/s ETA ${eta.toFixed(0)} s\n`);
    },
    log: (line) => { stream.write(line + '\n'); },
    warn: (line) => { stream.write(`warning: ${line}\n`); },
    stop() {},
  };
}
