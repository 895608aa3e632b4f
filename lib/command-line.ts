// One way to read a command line for every program (hub, agent, start, sim,
// bench, gate, flash): node:util parseArgs in strict mode, plus -h/--help.
// A mistake becomes one line naming the option, with a "did you mean" when
// there is a near one, and exit code 2; --help prints the usage and exits 0.
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { closest } from "./edit-distance.ts";

/** What the operator gave cannot be used: each problem names its option or variable. Programs exit 2 on it. */
export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "UsageError";
  }
}

/** -h or --help was given: runCommand prints the program's usage and exits 0. */
export class HelpRequested extends Error {
  constructor() {
    super("help requested");
    this.name = "HelpRequested";
  }
}

export type OptionValues<O extends ParseArgsOptionsConfig> = { [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string };

const HELP = { help: { type: "boolean", short: "h" } } as const;
/** Edits a misspelt option may be away from a real one and still be suggested. */
const SUGGEST_WITHIN = 2;

/**
 * The options and up to `maxPositionals` positional arguments in `args`.
 * Throws HelpRequested for -h/--help, UsageError with one line for anything
 * parseArgs refuses (an unknown option, a missing value, a stray argument).
 */
export function readCommandLine<O extends ParseArgsOptionsConfig>(
  args: string[],
  options: O,
  maxPositionals = 0,
): { values: OptionValues<O>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, ...HELP }, strict: true, allowPositionals: maxPositionals > 0 });
  } catch (error) {
    if (!String((error as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS_")) throw error;
    throw new UsageError([explainRefusal(args, options)]);
  }
  const values = parsed.values as OptionValues<O & typeof HELP>;
  if (values.help) throw new HelpRequested();
  const extra = parsed.positionals[maxPositionals];
  if (extra !== undefined) throw new UsageError([`${extra}: unexpected argument (see --help)`]);
  return { values, positionals: parsed.positionals };
}

/**
 * Why strict parseArgs refused `args`, said in our words: its own messages
 * run over several lines. The tokens of a lenient parse show the culprit.
 */
function explainRefusal(args: string[], options: ParseArgsOptionsConfig): string {
  const { tokens } = parseArgs({ args, options: { ...options, ...HELP }, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === "positional") return `${token.value}: unexpected argument (see --help)`;
    if (token.kind !== "option") continue;
    const option = token.name === "help" ? HELP.help : options[token.name];
    if (option === undefined) {
      const guess = token.rawName.startsWith("--") ? closest(token.name, Object.keys(options), SUGGEST_WITHIN) : null;
      return `${token.rawName}: unknown option ${guess ? `(did you mean --${guess}?)` : "(see --help)"}`;
    }
    // A missing value must not swallow the next option (`--enroll-token --offline`).
    if (option.type === "string" && (token.value === undefined || (!token.inlineValue && token.value.startsWith("-")))) {
      return `${token.rawName}: needs a value (write ${token.rawName}=VALUE for one starting with -)`;
    }
    if (option.type === "boolean" && token.value !== undefined) return `${token.rawName}: takes no value`;
  }
  return `${args.join(" ")}: not understood (see --help)`;
}

/**
 * Runs a program's main with the exit codes every edgefed command shares: a
 * UsageError prints each problem as `program: problem` on stderr and exits 2,
 * HelpRequested prints `help()` on stdout and exits 0. Anything else is a
 * failure of the program, not of its command line, and is left to propagate.
 */
export async function runCommand(program: string, help: () => string, main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(`${help()}\n`);
      process.exit(0);
    }
    if (error instanceof UsageError) {
      for (const problem of error.problems) process.stderr.write(`${program}: ${problem}\n`);
      process.exit(2);
    }
    throw error;
  }
}
