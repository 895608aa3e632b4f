// Reading federation.yaml (or .json) and keeping it current: every problem
// names the file and the field, and a watcher reloads on change, keeping the
// config in force when the new file is bad (and saying why).
import { watch, readFileSync, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { load } from "js-yaml";
import type { z } from "zod";
import { closest } from "../../lib/edit-distance.ts";
import { jsonDepthProblem } from "../../lib/json-depth.ts";
import { FederationConfigSchema, type FederationConfig } from "./config.ts";

/** A config file that cannot be used; `problems` are one line each, `file: field: what is wrong`. */
export class FederationConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "FederationConfigError";
  }
}

/** The field names an object at `path` of the schema accepts (for "did you mean"). */
function knownKeys(path: PropertyKey[]): string[] {
  let schema: z.ZodType = FederationConfigSchema;
  for (const key of path) {
    const shape = objectShape(schema);
    if (!shape || typeof key !== "string" || !(key in shape)) return [];
    schema = shape[key]!;
  }
  return Object.keys(objectShape(schema) ?? {});
}

/** The shape of an object schema, looking through defaults, refinements and optionals. */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | null {
  let current: any = schema;
  for (let i = 0; i < 8 && current; i++) {
    if (current.shape) return current.shape;
    current = current.def?.innerType ?? current.def?.in ?? current.def?.schema;
  }
  return null;
}

function describeIssue(file: string, issue: z.core.$ZodIssue): string[] {
  const at = (path: PropertyKey[]) => (path.length ? path.map(String).join(".") : "(top)");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => {
      const guess = closest(key, knownKeys(issue.path), 3);
      return `${file}: ${at([...issue.path, key])}: unknown field${guess ? ` (did you mean ${guess}?)` : ""}`;
    });
  }
  return [`${file}: ${at(issue.path)}: ${issue.message}`];
}

/** Parses a config file's text: YAML (JSON is YAML too). Throws FederationConfigError. */
export function parseFederationConfig(text: string, file: string): FederationConfig {
  const tooDeep = jsonDepthProblem(text);
  if (tooDeep && file.endsWith(".json")) throw new FederationConfigError([`${file}: ${tooDeep}`]);
  let raw: unknown = {};
  // A file of nothing but blank lines and comments is every default (js-yaml wants a document).
  const empty = text.split("\n").every((line) => /^\s*(#.*)?$/.test(line));
  if (!empty) {
    try {
      raw = load(text, { filename: file });
    } catch (error) {
      throw new FederationConfigError([`${file}: ${(error as Error).message.split("\n")[0]}`]);
    }
  }
  const parsed = FederationConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new FederationConfigError(parsed.error.issues.flatMap((issue) => describeIssue(file, issue)));
  return parsed.data;
}

export function loadFederationConfig(file: string): FederationConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new FederationConfigError([`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`]);
  }
  return parseFederationConfig(text, file);
}

export interface ConfigWatcherEvents {
  /** A new config is in force. */
  onReload(config: FederationConfig): void;
  /** The file changed but cannot be used: the config in force stays. */
  onRefused(problems: string[]): void;
}

/**
 * Holds the config in force and reloads it when the file changes. It
 * watches the directory, since editors often replace a file rather than
 * write it, and reloads once changes have been quiet for `settleMs`.
 */
export class FederationConfigWatcher {
  private watcher: FSWatcher | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastText: string | null = null;

  private constructor(
    readonly file: string,
    private config: FederationConfig,
    private readonly events: ConfigWatcherEvents,
    private readonly settleMs: number,
  ) {}

  /** Loads the file (a bad one throws: there is no config in force yet) and starts watching it. */
  static start(file: string, events: ConfigWatcherEvents, settleMs = 100): FederationConfigWatcher {
    const watcher = new FederationConfigWatcher(file, loadFederationConfig(file), events, settleMs);
    watcher.lastText = readFileSync(file, "utf8");
    watcher.watcher = watch(dirname(file), (_event, name) => {
      if (name === null || name === basename(file)) watcher.scheduleReload();
    });
    return watcher;
  }

  get current(): FederationConfig {
    return this.config;
  }

  /** Reads the file again now: true when a new config is in force. */
  reload(): boolean {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (error) {
      this.events.onRefused([`${this.file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); the config in force stays`]);
      return false;
    }
    if (text === this.lastText) return false;
    this.lastText = text;
    try {
      this.config = parseFederationConfig(text, this.file);
    } catch (error) {
      if (!(error instanceof FederationConfigError)) throw error;
      this.events.onRefused([...error.problems, `${this.file}: refused; the config in force stays`]);
      return false;
    }
    this.events.onReload(this.config);
    return true;
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearTimeout(this.timer);
  }

  private scheduleReload(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reload();
    }, this.settleMs);
  }
}
