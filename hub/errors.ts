// Errors the hub's domain code (registration, removal, decisions) throws:
// what went wrong in the domain's terms, plus the error string and detail the
// API answers with. The domain never names an HTTP status; the one error
// handler in hub/http/error-handler.ts turns a kind into one.
export const DOMAIN_ERROR_KINDS = [
  /** The request's content breaks a rule (schema, policy limits). */
  "invalid",
  /** Missing, unknown or expired credentials or proof. */
  "unauthorized",
  /** Known, but not allowed: a removed node registering. */
  "forbidden",
  /** Nothing by that name. */
  "not_found",
  /** It was there, and was removed: a removed node's views until it is readmitted. */
  "gone",
  /** Taken or reserved by someone else. */
  "conflict",
  /** A part the hub depends on (the broker) did not answer; nothing changed, try again. */
  "unavailable",
] as const;
export type DomainErrorKind = (typeof DOMAIN_ERROR_KINDS)[number];

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    /** The machine-readable error the API answers with (`node_removed`, `invalid_token`, ...). */
    readonly error: string,
    /** What an operator or the node's developer needs to know. */
    readonly detail: string,
  ) {
    super(`${error}: ${detail}`);
  }
}

/** A schema failure (zod issues) as an `invalid_body` error naming the first offending field. */
export function invalidInput(issues: readonly { path: PropertyKey[]; message: string }[]): DomainError {
  const issue = issues[0];
  const field = issue?.path.map(String).join(".") || "body";
  return new DomainError("invalid", "invalid_body", `${field}: ${issue?.message ?? "invalid"}`);
}

/** A node id the hub has no registered node for. */
export function unknownNodeError(nodeId: string): DomainError {
  return new DomainError("not_found", "unknown_node", `no registered node ${nodeId}`);
}
