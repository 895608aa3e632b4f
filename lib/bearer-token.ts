// Bearer tokens (RFC 6750, `Authorization: Bearer <token>`) checked in
// constant time: both sides are hashed with SHA-256 first and the digests
// compared with timingSafeEqual, so neither the token's characters nor its
// length show in the time a refusal takes. (The hub's admin check,
// hub/http/admin-auth.ts, compares digests the same way.)
import { createHash, timingSafeEqual } from "node:crypto";

/** The token of an `Authorization: Bearer <token>` header (scheme in any case); undefined if absent or malformed. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

const digest = (secret: string) => createHash("sha256").update(secret).digest();

/** A check of presented tokens against `expected`, in constant time. */
export function secretChecker(expected: string): (presented: string | undefined) => boolean {
  const expectedDigest = digest(expected);
  return (presented) => presented !== undefined && timingSafeEqual(digest(presented), expectedDigest);
}
