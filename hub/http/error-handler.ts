// The hub's one error handler: a domain error's kind maps to its status here,
// the rest is the shared convention (lib/http-errors.ts).
import type { ErrorHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { errorHandler, HttpError } from "../../lib/http-errors.ts";
import { DomainError, type DomainErrorKind } from "../errors.ts";

const STATUS_OF: Record<DomainErrorKind, ContentfulStatusCode> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  unavailable: 503,
};

export function hubErrorHandler(log: (line: string) => void): ErrorHandler {
  return errorHandler("hub", log, (error) => (error instanceof DomainError ? new HttpError(STATUS_OF[error.kind], error.error, error.detail) : null));
}
