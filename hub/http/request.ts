// Reading a request: a JSON body (415 if it is not declared JSON, 400 if it
// nests deeper than the limit or does not parse) and a query string checked against a schema (400 naming
// the first offending field).
import type { Context } from "hono";
import type { z } from "zod";
import { jsonDepthProblem } from "../../lib/json-depth.ts";
import { invalidInput } from "../errors.ts";
import { HttpError } from "./http-error.ts";

export async function jsonBody(c: Context): Promise<unknown> {
  if (!(c.req.header("content-type") ?? "").toLowerCase().startsWith("application/json")) {
    throw new HttpError(415, "unsupported_media_type", "send the body as Content-Type: application/json");
  }
  const text = await c.req.text();
  const tooDeep = jsonDepthProblem(text);
  if (tooDeep) throw new HttpError(400, "json_too_deep", tooDeep);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", "the body is not valid JSON");
  }
}

export function parseQuery<T extends z.ZodType>(schema: T, c: Context): z.infer<T> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalidInput(parsed.error.issues);
  return parsed.data;
}
