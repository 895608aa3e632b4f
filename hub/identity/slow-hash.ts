// Admin secrets a person chooses (EDGEFED_ADMIN_TOKEN) or that open the
// whole API (operators' tokens) are stored with a slow salted hash, scrypt
// from node:crypto, so a copied registry does not hand out a cheap way to
// test guesses. What is stretched is the token's sha256 (secrets.ts), not the
// token: the hash the hub kept before (a sha256) can be migrated without the
// token, and the bearer check's cache (bearer-verifier.ts) is keyed by that
// same sha256. A verifier is self-describing, `scrypt$ln=13,r=8,p=1$salt$hash`,
// so stronger parameters later still read the old ones.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

/**
 * N = 2^13, r = 8 (8 MiB), p = 1: about 20 ms on the build machine (AMD
 * EPYC, shared) and about 3x that, ~60 ms, on a Raspberry Pi 4 class core
 * (bench/operators.ts measures it). Checked once per token, then cached.
 */
export const SCRYPT_PARAMS = { logN: 13, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;

function derive(input: Buffer, salt: Buffer, params: { logN: number; r: number; p: number }): Promise<Buffer> {
  const N = 2 ** params.logN;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r };
  // The async form runs in the thread pool: a check never blocks the event loop for its ~20-60 ms.
  return new Promise((resolve, reject) => scrypt(input, salt, KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key))));
}

/** A fresh verifier (new salt) for a secret's sha256 digest. */
export async function slowVerifier(digest: Buffer): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { logN, r, p } = SCRYPT_PARAMS;
  const key = await derive(digest, salt, SCRYPT_PARAMS);
  return `scrypt$ln=${logN},r=${r},p=${p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

const VERIFIER = /^scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

/** Whether `digest` (a presented secret's sha256) matches `verifier`, in constant time; a malformed verifier matches nothing. */
export async function slowVerifierMatches(digest: Buffer, verifier: string): Promise<boolean> {
  const match = VERIFIER.exec(verifier);
  if (!match) return false;
  const [logN, r, p] = [match[1], match[2], match[3]].map(Number) as [number, number, number];
  if (logN < 1 || logN > 20 || r < 1 || p < 1) return false;
  const expected = Buffer.from(match[5]!, "base64url");
  const key = await derive(digest, Buffer.from(match[4]!, "base64url"), { logN, r, p });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
