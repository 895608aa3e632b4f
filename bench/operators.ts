// `bun run bench operators`: what the slow token hash costs and what the
// bearer cache saves. (1) One scrypt check with the hub's parameters
// (hub/identity/slow-hash.ts), ms. (2) The bearer check in process, cached:
// the hub's admin token (answered without a promise), an operator's (one
// registry read to confirm it still stands), against the plain sha256
// compare the hub did before scrypt. (3) GET /federation/nodes per second
// over real HTTP with the admin token and with an operator's, IN_FLIGHT at a
// time (default 20) for REQUESTS (default 3,000) each.
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { startTestHub } from "../test/support/hub-harness.ts";
import { BearerVerifier } from "../hub/identity/bearer-verifier.ts";
import { createOperator } from "../hub/identity/operators.ts";
import { secretDigest, secretMatchesDigest } from "../hub/identity/secrets.ts";
import { SCRYPT_PARAMS, slowVerifier, slowVerifierMatches } from "../hub/identity/slow-hash.ts";
import { openSqliteStore } from "../hub/store/sqlite/sqlite-store.ts";
import { printResult, printTable, round } from "./report.ts";

const REQUESTS = Number(process.env.REQUESTS ?? 3000);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 20);
const SCRYPT_ROUNDS = 20;
const CHECKS = 200_000;

async function scryptMs(): Promise<number> {
  const verifier = await slowVerifier(secretDigest("bench"));
  const started = performance.now();
  for (let i = 0; i < SCRYPT_ROUNDS; i++) await slowVerifierMatches(secretDigest("bench"), verifier);
  return (performance.now() - started) / SCRYPT_ROUNDS;
}

/** Checks per second of `check`, awaited only when it answers with a promise (as the guard does). */
async function perSecond(check: () => unknown): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < CHECKS; i++) {
    const verdict = check();
    if (verdict instanceof Promise) await verdict;
  }
  return CHECKS / ((performance.now() - started) / 1000);
}

async function inProcessChecks(): Promise<{ sha256: number; admin: number; operator: number }> {
  const store = openSqliteStore(tempDir());
  const admin = "bench-admin-token-0123456789abcdef";
  const verifier = new BearerVerifier(store, await slowVerifier(secretDigest(admin)), Date.now);
  const { token } = await createOperator(store, { name: "bench", role: "admin" }, "admin", Date.now());
  await verifier.verify(admin);
  await verifier.verify(token);
  const digest = secretDigest(admin);
  const result = {
    sha256: await perSecond(() => secretMatchesDigest(admin, digest)),
    admin: await perSecond(() => verifier.verify(admin)),
    operator: await perSecond(() => verifier.verify(token)),
  };
  await store.close();
  return result;
}

async function httpReadsPerSecond(): Promise<{ admin: number; operator: number }> {
  // The admin rate limit off: this measures the check, not the limit (bench rate-limits does).
  const unlimited = String(10 * REQUESTS);
  const t = await startTestHub({ env: { EDGEFED_RATE_ADMIN_BURST: unlimited, EDGEFED_RATE_ADMIN_PER_S: unlimited } });
  const operatorToken = (await t.api("POST", "/api/federation/operators", { name: "bench", role: "viewer" })).body.token as string;
  const reads = async (token: string) => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next++ < REQUESTS) {
          const response = await fetch(`${t.hub.httpUrl}/federation/nodes`, { headers: { authorization: `Bearer ${token}` } });
          if (response.status !== 200) throw new Error(`read answered ${response.status}`);
          await response.arrayBuffer();
        }
      }),
    );
    return REQUESTS / ((performance.now() - started) / 1000);
  };
  await reads(t.adminToken); // warm-up: both tokens checked once and cached
  await reads(operatorToken);
  const result = { admin: await reads(t.adminToken), operator: await reads(operatorToken) };
  await t.stop();
  return result;
}

try {
  const scrypt = await scryptMs();
  const checks = await inProcessChecks();
  const http = await httpReadsPerSecond();
  const { logN, r, p } = SCRYPT_PARAMS;
  printTable(`operators: token checks (scrypt N=2^${logN}, r=${r}, p=${p}), cached bearer checks, API reads (${REQUESTS} reads, ${IN_FLIGHT} in flight)`, [
    ["ms per scrypt check (uncached)", round(scrypt, 1)],
    ["cached checks/s: hub admin token", round(checks.admin)],
    ["cached checks/s: operator token (one registry read)", round(checks.operator)],
    ["checks/s: sha256 compare as before scrypt (limit)", round(checks.sha256)],
    ["GET /federation/nodes per s: hub admin token", round(http.admin)],
    ["GET /federation/nodes per s: operator token", round(http.operator)],
  ]);
  printResult({ bench: "operators", value: round(http.operator), unit: "reads/s with an operator token", limit: round(http.admin), extra: { scrypt_ms: round(scrypt, 1), cached_admin_per_s: round(checks.admin), cached_operator_per_s: round(checks.operator), sha256_per_s: round(checks.sha256) } });
} finally {
  removeTempDirs();
}
