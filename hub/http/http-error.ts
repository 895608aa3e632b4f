// Errors the HTTP layer itself finds (no admin token, a body that is not
// JSON); domain errors are hub/errors.ts. error-handler.ts answers both as
// `{error, detail}`.
export class HttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 415,
    readonly error: string,
    readonly detail: string,
  ) {
    super(`${error}: ${detail}`);
  }
}
