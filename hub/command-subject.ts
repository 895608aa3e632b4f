// The registry commands' command lines: an optional first positional
// argument (`operator revoke NAME`, `token revoke ID`), then options read
// through the settings engine, so --help and unknown options behave as in
// every other command before a missing name is complained of.
import { UsageError } from "../lib/command-line.ts";
import { parseSettings, type SettingsTable } from "../lib/settings.ts";

export function parseWithSubject<S>(
  table: SettingsTable<S>,
  args: string[],
  env: Record<string, string | undefined>,
  command: string,
  what: string,
): { subject: string; settings: S } {
  const [first, ...rest] = args;
  const hasSubject = first !== undefined && !first.startsWith("-");
  const settings = parseSettings(table, hasSubject ? rest : args, env);
  if (!hasSubject) throw new UsageError([`${command}: give the ${what} first (see --help)`]);
  return { subject: first, settings };
}
