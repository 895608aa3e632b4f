// Secrets the hub hands out (MQTT passwords, enrollment tokens, session ids,
// the watch and metrics tokens) are random and long, so a plain SHA-256 is
// enough to store them: there is nothing to guess, and checking one costs a
// microsecond, not a key stretch. The admin token (which a person may choose)
// and operators' tokens (which open the whole API) are kept as scrypt
// verifiers instead (slow-hash.ts), checked once and cached (bearer-verifier.ts).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Compares a presented secret with a stored hash (hex) in constant time. */
export function secretMatches(presented: string | Buffer | undefined, storedHash: string | undefined): boolean {
  return storedHash !== undefined && secretMatchesDigest(presented, Buffer.from(storedHash, "hex"));
}

/** The same against a stored digest already decoded, for per-request checks. */
export function secretMatchesDigest(presented: string | Buffer | undefined, storedDigest: Buffer): boolean {
  if (presented === undefined) return false;
  const presentedDigest = createHash("sha256").update(presented).digest();
  return presentedDigest.length === storedDigest.length && timingSafeEqual(presentedDigest, storedDigest);
}

/** A secret's sha256 as bytes: the bearer cache's key and what slow-hash.ts stretches. */
export function secretDigest(secret: string | Buffer): Buffer {
  return createHash("sha256").update(secret).digest();
}
