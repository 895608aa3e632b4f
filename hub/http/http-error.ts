// Errors that carry their HTTP status; the app turns them into `{error, detail}`.
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 500 | 503,
    readonly error: string,
    readonly detail: string,
  ) {
    super(`${error}: ${detail}`);
  }
}

/** A zod failure as a 400 naming the first offending field. */
export function invalidBody(issues: readonly { path: PropertyKey[]; message: string }[]): HttpError {
  const issue = issues[0];
  const field = issue?.path.map(String).join(".") || "body";
  return new HttpError(400, "invalid_body", `${field}: ${issue?.message ?? "invalid"}`);
}
