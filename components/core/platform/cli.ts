/**
 * The conventions every component's command line follows (commander underneath):
 * `--help` on every command; progress and logs on stderr; exactly one JSON line on stdout, the
 * summary a pipeline or a person reads; exit 0 on success, 2 on bad usage or input, 1 otherwise.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { errorMessage, InputError } from './errors.js';
import { redact } from './secrets.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

/** A command with the project's conventions: usage errors throw instead of exiting, help after an error. */
export function createCommand(name: string, description: string): Command {
  return (
    new Command(name)
      .description(description)
      // Options after a subcommand's name are the subcommand's, even where the parent has one of that name.
      .enablePositionalOptions()
      .showHelpAfterError('(run with --help for usage)')
      .exitOverride()
      .configureOutput({ outputError: (text, write) => write(redact(text)) })
  );
}

/** Parses a positive integer option value, with commander's own error on anything else. */
export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError(`'${value}' is not a positive integer.`);
  return parsed;
}

/** Parses an integer option value ≥ 0 (0 where a pipeline passes "none"), with commander's own error on anything else. */
export function nonNegativeInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`'${value}' is not an integer ≥ 0.`);
  return parsed;
}

/** Writes a command's summary: one JSON line on stdout. */
export function printSummary(summary: unknown): void {
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

/** The exit code an error maps to. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version "fail" with these codes in commander's exitOverride mode.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') {
      return EXIT_OK;
    }
    return EXIT_BAD_INPUT;
  }
  if (error instanceof InputError) return EXIT_BAD_INPUT;
  return EXIT_FAILURE;
}

/**
 * Runs a command line and exits the process with the code the outcome maps to. Commander prints its
 * own usage errors; other errors are printed here as one `error:` line (secrets masked), plus the
 * stack for unexpected failures when DEBUG is set.
 */
export async function runMain(program: Command, argv: readonly string[] = process.argv): Promise<never> {
  let code = EXIT_OK;
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    code = exitCodeFor(error);
    if (!(error instanceof CommanderError)) {
      process.stderr.write(`error: ${redact(errorMessage(error))}\n`);
      if (process.env['DEBUG'] && error instanceof Error && error.stack) process.stderr.write(`${redact(error.stack)}\n`);
    }
  }
  // Exit explicitly: a pool or socket left open by a failure must not keep a pipeline task alive.
  process.exit(code);
}

/**
 * Writes one of a command's output files: a KFP output parameter (`…output_file`) or an artifact path
 * the pipeline passed. Nothing when the option was not given.
 */
export async function writeOutputFile(file: string | undefined, text: string): Promise<void> {
  if (!file) return;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}
