import { Command, CommanderError } from 'commander';
import { registerGenerate } from './generate.js';
import { registerFinetune } from './finetune.js';
import { registerTrain } from './train.js';
import { registerSweep } from './sweep.js';
import { registerAnalyze } from './analyze.js';
import { registerStratify } from './stratify.js';
import { registerEvaluate } from './evaluate.js';
import { registerServe } from './serve.js';
import { registerDoctor } from './doctor.js';
import { LoraRouteError } from '../errors.js';

/** Each command lives in its own file and exports one `registerX(program)`; the list below is the whole CLI (one line each). */
const commands: Array<(program: Command) => void> = [
  registerGenerate,
  registerFinetune,
  registerTrain,
  registerSweep,
  registerAnalyze,
  registerStratify,
  registerEvaluate,
  registerServe,
  registerDoctor,
];

/** Exit statuses: 0 success, 1 an internal error (a bug: printed with its stack), 2 a user error (printed as its message). */
export const EXIT_INTERNAL = 1;
export const EXIT_USAGE = 2;

/** Builds the program and runs one command line; throws what the command throws (commander's parse errors as CommanderError). */
export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program.name('loraroute').description('Complexity-aware routing of instructions to LoRA experts on GPT-2 models');
  program.showHelpAfterError();
  program.exitOverride(); // parse errors throw a CommanderError (inherited by every command registered below)
  for (const register of commands) register(program);
  await program.parseAsync(argv);
}

/**
 * Runs main and turns whatever it throws into an exit status and a message on stderr — the CLI's one error
 * handler. `LORAROUTE_DEBUG=1` adds the stack to user errors too.
 */
export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env, stderr: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  try {
    await main(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    return reportError(err, env.LORAROUTE_DEBUG === '1', stderr);
  }
}

/**
 * Errors outside the command's promise (an 'error' event thrown from a listener, a stray rejection) go through
 * the same report and exit status instead of Node's default dump. The executable installs this once.
 */
export function exitOnFatalErrors(env: NodeJS.ProcessEnv = process.env): void {
  const fatal = (err: unknown) => process.exit(reportError(err, env.LORAROUTE_DEBUG === '1', (s) => process.stderr.write(s)));
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

/** Writes the message for err (with its stack for internal errors, or always with debug) and returns its exit status. */
export function reportError(err: unknown, debug: boolean, stderr: (s: string) => void): number {
  if (err instanceof CommanderError) {
    // commander has printed its own message (and the help); --help and `help` end with status 0
    if (err.exitCode === 0) return 0;
    if (debug) stderr(`${err.stack ?? err.message}\n`);
    return EXIT_USAGE;
  }
  const kind = errorKind(err);
  const e = err instanceof Error ? err : new Error(String(err));
  if (kind === 'user') {
    stderr(`loraroute: ${e.message}\n`);
    if (debug) stderr(`[${(e as { code?: string }).code ?? ''}] ${e.stack ?? ''}\n`);
    return EXIT_USAGE;
  }
  stderr(`loraroute: internal error (a bug; please report it with this output): ${e.stack ?? e.message}\n`);
  return EXIT_INTERNAL;
}

/** File-system errors a user causes with a path (missing, unreadable, a folder, a full or read-only disk, ...). */
const FILE_ERROR_CODES = new Set([
  'ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ENOTEMPTY', 'EEXIST', 'ENAMETOOLONG', 'ELOOP', 'EROFS', 'ENOSPC', 'EDQUOT',
  'EFBIG', 'EMFILE', 'ENFILE', 'EXDEV', 'ENXIO', 'EBUSY', 'ETXTBSY', 'EIO',
]);

/**
 * 'user' for a LoraRouteError (told apart by its name and `code` 'E_…', so a second copy of the module
 * still counts) or a file-system error on a path the user gave; 'internal' for everything else.
 */
export function errorKind(err: unknown): 'user' | 'internal' {
  if (!(err instanceof Error)) return 'internal';
  const code = (err as { code?: unknown }).code;
  if (err instanceof LoraRouteError || (err.name === 'LoraRouteError' && typeof code === 'string' && code.startsWith('E_'))) return 'user';
  if (typeof code === 'string' && FILE_ERROR_CODES.has(code) && typeof (err as { syscall?: unknown }).syscall === 'string') return 'user';
  return 'internal';
}
