// How every command ends: its exit code, or one line saying why it could not run. A stack
// trace only with WOD_DEBUG=1. Output piped into `head` ends quietly (EPIPE).
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError, readStackFile, type StackConfig } from "../config";
import { DatabaseUnreachable } from "../db/connect";
import { CatalogInvalid, DatabaseBehind, EmptyDatabase, ROOT } from "../load";

/** Bad command-line input: the message says what and how to fix it (exit 2). */
export class UsageError extends Error {}

/** Exit code for input, config or environment problems: nothing was done. */
export const EXIT_INPUT = 2;

export function runCommand(main: () => Promise<number>): void {
  quietOnClosedPipe();
  main().then(
    (code) => exit(code),
    (e: unknown) => {
      console.error(`wod: ${describeError(e)}`);
      if (process.env.WOD_DEBUG === "1" && e instanceof Error && e.stack) console.error(e.stack);
      exit(EXIT_INPUT);
    },
  );
}

/** One line for anything thrown (or rejected: some libraries reject with undefined). */
export function describeError(e: unknown): string {
  if (e instanceof UsageError || e instanceof ConfigError || e instanceof DatabaseUnreachable || e instanceof DatabaseBehind || e instanceof EmptyDatabase || e instanceof CatalogInvalid) {
    return e.message;
  }
  const pg = e as { code?: unknown; severity?: unknown; message?: unknown } | null;
  if (pg && typeof pg.code === "string" && /^[0-9A-Z]{5}$/.test(pg.code) && typeof pg.severity === "string") {
    return `database error (${pg.code}): ${oneLine(String(pg.message))}`;
  }
  if (e instanceof Error) return `${oneLine(e.message) || e.name} (internal error; WOD_DEBUG=1 prints the stack trace)`;
  return `failed without a reason (${oneLine(String(e))}; internal error)`;
}

const oneLine = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean).join(" | ");

/**
 * parseArgs, strict, with its errors as usage errors in one line (`unknown option --bogus`).
 * `usage` names the command in the hint.
 */
export function parseCommandLine<T extends ParseArgsConfig>(config: T, usage: string) {
  try {
    return parseArgs({ strict: true, ...config });
  } catch (e) {
    const err = e as { code?: string; message: string };
    const option = /'(-[^']*)'/.exec(err.message)?.[1] ?? "";
    const why =
      err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? `unknown option ${option.split(/[ ,]/)[0]}`
      : err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE"
        ? `option ${option.split(/[ ,]/)[0]} ${/argument missing|ambiguous/.test(err.message) ? "needs a value (one starting with '-' is never valid here)" : "takes no value"}`
      : err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" ? `unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ""}`
      : err.message.split(".")[0];
    throw new UsageError(`${why} (see ${/^usage: (wod(?: [a-z-]+)?)/.exec(usage)?.[1] ?? "wod"} --help)`);
  }
}

/** A positive number no larger than max (fractions allowed), or a usage error naming the option. */
export function positiveNumber(value: string | undefined, option: string, max: number, unit: string): number {
  if (value === undefined) throw new UsageError(`${option} is required`);
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${option}: expected a positive number of ${unit}, got '${value}'`);
  if (n > max) throw new UsageError(`${option}: ${value} ${unit} is more than the ${max} ${unit} one command may grant`);
  return n;
}

/** A database id (a positive whole number), or a usage error saying what was expected. */
export function recordId(value: string | undefined, what: string): string {
  if (value === undefined) throw new UsageError(`${what} is required`);
  if (!/^[1-9][0-9]{0,17}$/.test(value)) throw new UsageError(`${what}: expected a positive whole number, got '${value}'`);
  return value;
}

/** `--stack NAME` selects Pulumi.NAME.yaml: a plain name, never a path. */
export function stackName(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(value)) throw new UsageError(`--stack: '${value}' is not a stack name (letters, digits, . _ -)`);
  return value;
}

/** The config of `--stack NAME` (Pulumi.NAME.yaml next to Pulumi.yaml); a name without a file lists the stacks there are. */
export function readStack(name: string): StackConfig {
  const file = path.join(ROOT, `Pulumi.${stackName(name)}.yaml`);
  if (!fs.existsSync(file)) {
    const stacks = fs.readdirSync(ROOT).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter(Boolean).sort();
    throw new ConfigError(`--stack ${name}: no stack file Pulumi.${name}.yaml here (stacks: ${stacks.join(", ") || "none"})`);
  }
  return readStackFile(file);
}

function exit(code: number): void {
  process.exitCode = code;
  // stdout may still be flushing to a pipe or file: exit once it is written.
  if (process.stdout.writableLength === 0) process.exit(code);
  else process.stdout.once("drain", () => process.exit(code));
}

/** `wod plan --json | head` closes the pipe early: that is not an error. */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}
