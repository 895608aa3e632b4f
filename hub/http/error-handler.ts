// The one place errors become HTTP answers: `{error, detail}` with the status
// a domain error's kind maps to, or the HTTP layer's own; anything else is a
// 500 whose cause goes to the log, not to the client.
import type { ErrorHandler, NotFoundHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { DomainError, type DomainErrorKind } from "../errors.ts";
import { HttpError } from "./http-error.ts";

const STATUS_OF: Record<DomainErrorKind, ContentfulStatusCode> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  unavailable: 503,
};

export function errorHandler(log: (line: string) => void): ErrorHandler {
  return (error, c) => {
    if (error instanceof DomainError) return c.json({ error: error.error, detail: error.detail }, STATUS_OF[error.kind]);
    if (error instanceof HttpError) return c.json({ error: error.error, detail: error.detail }, error.status);
    log(`internal error on ${c.req.method} ${c.req.path}: ${error.message}`);
    return c.json({ error: "internal_error", detail: "the hub failed to handle this request; see its log" }, 500);
  };
}

export const routeNotFound: NotFoundHandler = (c) => c.json({ error: "not_found", detail: `no route ${c.req.method} ${c.req.path}` }, 404);
