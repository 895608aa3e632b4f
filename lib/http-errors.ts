// The HTTP error convention shared by the hub's API and the agent's local API:
// every error is answered as `{error, detail}` with its status. Code throws
// an HttpError (or, in the hub, a domain error that its handler maps first);
// one error handler per app answers it, and anything unexpected becomes a 500
// whose cause goes to the log, not to the client.
import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { jsonDepthProblem } from "./json-depth.ts";

export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    /** The machine-readable error (`invalid_json`, `unauthorized`, ...). */
    readonly error: string,
    /** What the caller needs to know to put it right. */
    readonly detail: string,
  ) {
    super(`${error}: ${detail}`);
  }
}

/**
 * The request body as JSON: 415 unless it is declared JSON, 400 if it nests
 * deeper than the limit (checked before parsing, lib/json-depth.ts) or does
 * not parse.
 */
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

/** 413 for a body over `maxBytes`, before it is read whole. */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => c.json({ error: "payload_too_large", detail: `request bodies are limited to ${maxBytes} bytes` }, 413),
  });
}

/**
 * The app's one error handler. `known` maps errors of the app's own kinds
 * (the hub's domain errors) to an HttpError first; `who` names the server in
 * the 500's detail.
 */
export function errorHandler(who: string, log: (line: string) => void, known: (error: Error) => HttpError | null = () => null): ErrorHandler {
  return (error, c) => {
    const answer = error instanceof HttpError ? error : known(error);
    if (answer) return c.json({ error: answer.error, detail: answer.detail }, answer.status);
    log(`internal error on ${c.req.method} ${c.req.path}: ${error.message}`);
    return c.json({ error: "internal_error", detail: `the ${who} failed to handle this request; see its log` }, 500);
  };
}

export const routeNotFound: NotFoundHandler = (c) => c.json({ error: "not_found", detail: `no route ${c.req.method} ${c.req.path}` }, 404);
