// The one positional argument the registry commands take (`operator revoke
// NAME`, `token revoke ID`): first, before the options.
import { UsageError } from "../lib/command-line.ts";

export function takeSubject(args: string[], command: string, what: string): { subject: string; options: string[] } {
  const [first, ...options] = args;
  if (first === undefined || first.startsWith("-")) {
    if (first === "-h" || first === "--help") return { subject: "", options: args }; // the usage, from the options' parser
    throw new UsageError([`${command}: give the ${what} first (see --help)`]);
  }
  return { subject: first, options };
}
