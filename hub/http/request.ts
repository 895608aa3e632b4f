// Reading a query string checked against a schema (400 naming the first
// offending field). JSON bodies are read by lib/http-errors.ts's jsonBody.
import type { Context } from "hono";
import type { z } from "zod";
import { invalidInput } from "../errors.ts";

export function parseQuery<T extends z.ZodType>(schema: T, c: Context): z.infer<T> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalidInput(parsed.error.issues.map(namingUnknownKeys));
  return parsed.data;
}

/** A strict schema's "unrecognized keys" issue names no field; name the first unknown parameter. */
function namingUnknownKeys(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string } {
  if (issue.code !== "unrecognized_keys") return issue;
  return { path: [issue.keys[0]!], message: "not a parameter of this endpoint" };
}
