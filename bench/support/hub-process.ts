// A hub as its own process for benchmarks (bun hub/main.ts on free ports, the
// embedded broker unless told otherwise), an enrollment token made the way an
// operator makes one (`hub token create`), and nodes registered over HTTP.
// TLS=1 in the environment: the hub with EDGEFED_TLS=on, with the test run's
// CA and server certificate (test/support/test-tls.ts) seeded into its data
// dir before it starts, so a Mosquitto, every client and the test browser
// trust it; without, the lab's plaintext (EDGEFED_TLS=off with
// EDGEFED_ALLOW_PLAINTEXT=1), which the figures without -tls are measured on.
import { join } from "node:path";
import { loadHubTls, type HubTls } from "../../hub/tls/hub-pki.ts";
import { generateKeyPair } from "../../protocol/signing.ts";
import { seedTestTls } from "../../test/support/test-tls.ts";
import { startChild, type Child } from "./child.ts";

export const BENCH_ADMIN_TOKEN = "bench-admin-token-0123456789";
export const BENCH_TLS = process.env.TLS === "1";
const ROOT = join(import.meta.dir, "../..");

export function hubProcessEnv(dataDir: string): Record<string, string> {
  return {
    EDGEFED_DATA_DIR: dataDir,
    EDGEFED_HTTP_HOST: "127.0.0.1",
    EDGEFED_HTTP_PORT: "0",
    EDGEFED_MQTT_HOST: "127.0.0.1",
    EDGEFED_MQTT_PORT: "0",
    EDGEFED_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
    ...(BENCH_TLS ? { EDGEFED_TLS: "on", EDGEFED_MQTTS_PORT: "0" } : { EDGEFED_TLS: "off", EDGEFED_ALLOW_PLAINTEXT: "1" }),
  };
}

/** With TLS=1, the hub's TLS material in `dataDir`; null without. */
export function hubTls(dataDir: string): HubTls | null {
  if (BENCH_TLS) seedTestTls(dataDir);
  return BENCH_TLS ? loadHubTls({ dataDir, extraSans: [], certFile: "", keyFile: "", caFile: "" }, Date.now(), () => {}) : null;
}

export async function startHubProcess(dataDir: string, env: Record<string, string>): Promise<{ child: Child; url: string }> {
  const child = await startChild([join(ROOT, "hub/main.ts")], { ...hubProcessEnv(dataDir), ...env }, /HTTP API on [\d.]+:(\d+)/);
  return { child, url: `${BENCH_TLS ? "https" : "http"}://127.0.0.1:${child.ready}` };
}

/** `env`: the registry's settings beside the data dir (EDGEFED_DATABASE_URL for PostgreSQL). */
export async function createToken(dataDir: string, env: Record<string, string> = {}): Promise<string> {
  const proc = Bun.spawnSync([process.execPath, join(ROOT, "hub/main.ts"), "token", "create", "--uses", "100000000", "--ttl", "never", "--data-dir", dataDir], {
    env: { ...process.env, ...env },
  });
  if (proc.exitCode !== 0) throw new Error(proc.stderr.toString());
  return proc.stdout.toString().trim();
}

/** One real key for every benchmark node: the hub refuses small-order points such as 32 zero bytes ("A" x 43). */
export const PUBLIC_KEY = generateKeyPair().publicKey;
function registration(nodeId: string): string {
  return JSON.stringify({ node_id: nodeId, public_key: PUBLIC_KEY, capabilities: ["kernel"], arch: "arm64", version: "bench" });
}

export interface RegisteredNode {
  nodeId: string;
  mqtt: { url: string; username: string; password: string; client_id: string };
}

// With Mosquitto the hub grants one node at a time (dynamic-security round trips): a larger batch
// leaves its last requests waiting past Bun.serve's 10 s idle timeout on a busy machine (ECONNRESET).
const REGISTER_BATCH = 10;

/** Registers `count` nodes hb-00000, hb-00001, ... REGISTER_BATCH at a time; `ca` pins the hub's CA over TLS. */
export async function registerNodes(url: string, token: string, count: number, ca?: string): Promise<RegisteredNode[]> {
  const nodes = [];
  for (let start = 0; start < count; start += REGISTER_BATCH) {
    const batch = Array.from({ length: Math.min(REGISTER_BATCH, count - start) }, async (_, i) => {
      const nodeId = `hb-${String(start + i).padStart(5, "0")}`;
      const r = await fetch(`${url}/federation/register`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: registration(nodeId), ...(ca ? { tls: { ca } } : {}) });
      if (r.status !== 201) throw new Error(`register ${nodeId}: ${r.status} ${await r.text()}`);
      return { nodeId, mqtt: ((await r.json()) as RegisteredNode).mqtt };
    });
    nodes.push(...(await Promise.all(batch)));
  }
  return nodes;
}
