import { parseArgs, type ParseArgsConfig } from "node:util";
import { didYouMean } from "./did-you-mean.js";
import { verbUsage, type VerbSpec } from "./usage.js";

/** A mistake in how a verb was called. The CLI prints it with the verb's usage and exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(
    message: string,
    readonly verb: VerbSpec,
  ) {
    super(message);
  }
}

type Config<S extends VerbSpec> = { args: string[]; options: S["options"]; allowPositionals: true; strict: true };

/** What node:util's parseArgs returns for a verb's options: values typed by the spec. */
export type ParsedOptions<S extends VerbSpec> = ReturnType<typeof parseArgs<Config<S>>>;

/**
 * Parses a verb's arguments with its spec. `--help`/`-h` anywhere before `--` prints the verb's
 * usage and returns undefined (the verb then exits 0). An unknown option, a missing value or the
 * wrong number of positional arguments throws a UsageError, with "did you mean" for a near miss.
 */
export function parseOptions<S extends VerbSpec>(spec: S, args: readonly string[]): ParsedOptions<S> | undefined {
  if (wantsHelp(args)) {
    console.log(verbUsage(spec));
    return undefined;
  }
  let parsed: ParsedOptions<S>;
  try {
    parsed = parseArgs({ args: [...args], options: parserOptions(spec), allowPositionals: true, strict: true }) as ParsedOptions<S>;
  } catch (error) {
    throw usageError(spec, error);
  }
  const count = parsed.positionals.length;
  if (count < spec.positionals.min) {
    throw new UsageError(spec.positionals.missing ?? `troupe ${spec.name} needs ${spec.synopsis.split(" [")[0]}`, spec);
  }
  if (count > spec.positionals.max) {
    const extra = parsed.positionals[spec.positionals.max]!;
    const hint = extra.startsWith("-") ? "" : didYouMean(`--${extra}`, optionNames(spec));
    throw new UsageError(`unexpected argument ${JSON.stringify(extra)}${hint}`, spec);
  }
  return parsed;
}

/** An option's value as a whole number from 1 to `max`; anything else is a UsageError naming the option. */
export function wholeNumber(verb: VerbSpec, option: string, value: string | undefined, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${option} must be a whole number from 1 to ${max}; got ${value}`, verb);
  return n;
}

/** The positional arguments as well as they can be told apart, also when the options are wrong. */
export function loosePositionals(spec: VerbSpec, args: readonly string[]): string[] {
  try {
    return parseArgs({ args: [...args], options: parserOptions(spec), allowPositionals: true, strict: false }).positionals;
  } catch {
    return [];
  }
}

function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === "--help" || arg === "-h");
}

/** The spec's options as parseArgs wants them: only the keys it knows, none set to undefined. */
function parserOptions(spec: VerbSpec): NonNullable<ParseArgsConfig["options"]> {
  return Object.fromEntries(
    Object.entries(spec.options).map(([name, { type, short, multiple, default: fallback }]) => [
      name,
      { type, ...(short === undefined ? {} : { short }), ...(multiple === undefined ? {} : { multiple }), ...(fallback === undefined ? {} : { default: fallback }) },
    ]),
  );
}

function optionNames(spec: VerbSpec): string[] {
  return Object.entries(spec.options)
    .filter(([, option]) => !option.hidden)
    .flatMap(([name, option]) => [`--${name}`, ...(option.short ? [`-${option.short}`] : [])])
    .concat("--help");
}

function usageError(spec: VerbSpec, error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const typed = /Unknown option '([^']+)'/.exec(message)?.[1] ?? message;
    return new UsageError(`unknown option ${typed}${didYouMean(typed, optionNames(spec))}`, spec);
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    // "Option '--nodes <value>' argument missing", "... argument is ambiguous.\nDid you forget ...".
    return new UsageError(message.replace(/^Option/, "option").split("\n").join(" "), spec);
  }
  return error instanceof Error ? error : new Error(message);
}
