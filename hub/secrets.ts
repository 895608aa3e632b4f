// Secrets the hub hands out (MQTT passwords, enrollment and admin tokens) are
// random and long, so a plain SHA-256 is enough to store them: there is
// nothing to guess, and checking one costs a microsecond, not a key stretch.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Compares a presented secret with a stored hash in constant time. */
export function secretMatches(presented: string | Buffer | undefined, storedHash: string | undefined): boolean {
  if (presented === undefined || storedHash === undefined) return false;
  const presentedHash = Buffer.from(hashSecret(typeof presented === "string" ? presented : presented.toString("utf8")), "hex");
  const stored = Buffer.from(storedHash, "hex");
  return stored.length === presentedHash.length && timingSafeEqual(presentedHash, stored);
}
