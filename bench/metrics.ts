// bun run bench metrics
// GET /metrics scrape time at 10,000 registered nodes (NODES): the hub runs
// as its own process on a registry written beforehand with NODES nodes and
// DECISIONS fleet decisions each acknowledged by every node but one (so the
// outstanding-decisions count walks DECISIONS x NODES acks every scrape).
// value = median ms of SCRAPES sequential scrapes over HTTP (after two
// warm-ups), default metrics (no per-node labels); also the p95, the
// exposition's size, and the same with EDGEFED_METRICS_PER_NODE=1 (a series
// set per node). limit = median ms of a bare Hono route on the same runtime
// answering a fixed body as large as the scrape: the transfer without the
// hub's work.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OPERATOR } from "../hub/decisions/decision-origin.ts";
import { openSqliteStore } from "../hub/store/sqlite/sqlite-store.ts";
import type { DecisionMessage } from "../protocol/messages.ts";
import { registeredNode } from "../test/fixtures/node-record.ts";
import { percentile, printResult, printTable, round } from "./report.ts";
import { startChild } from "./support/child.ts";

const NODES = Number(process.env.NODES ?? 10_000);
const DECISIONS = Number(process.env.DECISIONS ?? 20);
const SCRAPES = Number(process.env.SCRAPES ?? 20);
const ADMIN = "bench-admin-token-0123456789";
const ROOT = join(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "edgefed-bench-metrics-"));

/** A registry with NODES nodes (half healthy and LIVE, as heard from) and DECISIONS fleet decisions pending for one node each. */
async function writeRegistry(dataDir: string): Promise<void> {
  const store = openSqliteStore(dataDir);
  const now = Date.now();
  const ids = Array.from({ length: NODES }, (_, i) => `mx-${String(i).padStart(5, "0")}`);
  const nodes = ids.map((id, i) => {
    const node = registeredNode(id, now);
    if (i % 2 === 1) return node;
    return { ...node, health: "healthy" as const, live: { ...node.live, state: "online" as const, mode: "LIVE" as const, lastSeen: now, lastHeartbeatAt: now, outboxDepth: 0 } };
  });
  await store.write(async (tx) => {
    for (const node of nodes) await tx.nodes.save(node);
    await tx.nodes.saveLive(nodes);
    for (let seq = 1; seq <= DECISIONS; seq++) {
      const message = { id: `dec_bench_${seq}`, seq, type: "RISK_ADJUSTMENT", target: "fleet", payload: {}, issuedAt: now, expiresAt: now + 3_600_000, sig: "bench" } as DecisionMessage;
      await tx.decisions.add(message, ids, OPERATOR);
      for (const nodeId of ids.slice(1)) await tx.decisions.addAck(message.id, { nodeId, ok: true, error: null, appliedAt: now, receivedAt: now, result: null });
    }
  });
  await store.close();
}

/** Median and p95 ms of SCRAPES GETs of `url`, after two warm-ups; and the body's size. */
async function timeGets(url: string, headers: Record<string, string> = {}): Promise<{ median: number; p95: number; bytes: number }> {
  let bytes = 0;
  const get = async () => {
    const started = performance.now();
    const response = await fetch(url, { headers });
    if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
    bytes = (await response.arrayBuffer()).byteLength;
    return performance.now() - started;
  };
  await get();
  await get();
  const times: number[] = [];
  for (let i = 0; i < SCRAPES; i++) times.push(await get());
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), p95: percentile(times, 95), bytes };
}

async function scrapeHub(dataDir: string, perNode: boolean): Promise<{ median: number; p95: number; bytes: number }> {
  const env = {
    EDGEFED_DATA_DIR: dataDir,
    EDGEFED_HTTP_HOST: "127.0.0.1",
    EDGEFED_HTTP_PORT: "0",
    EDGEFED_MQTT_HOST: "127.0.0.1",
    EDGEFED_MQTT_PORT: "0",
    // Plaintext, as the bare route it is compared with: this measures the exposition, not TLS.
    EDGEFED_TLS: "off",
    EDGEFED_ALLOW_PLAINTEXT: "1",
    EDGEFED_ADMIN_TOKEN: ADMIN,
    EDGEFED_METRICS_PER_NODE: perNode ? "1" : "0",
  };
  const hub = await startChild([join(ROOT, "hub/main.ts")], env, /HTTP API on [\d.]+:(\d+)/, 60_000);
  try {
    return await timeGets(`http://127.0.0.1:${hub.ready}/metrics`, { authorization: `Bearer ${ADMIN}` });
  } finally {
    await hub.stop();
  }
}

try {
  const dataDir = join(dir, "hub");
  await writeRegistry(dataDir);
  const scrape = await scrapeHub(dataDir, false);
  const perNode = await scrapeHub(dataDir, true);
  const bare = await startChild([join(import.meta.dir, "support/bare-route.ts")], { BODY_BYTES: String(scrape.bytes) }, /port (\d+)/);
  const limit = await timeGets(`http://127.0.0.1:${bare.ready}/bare/x`);
  await bare.stop();
  printTable(`metrics: GET /metrics at ${NODES} nodes, ${DECISIONS} fleet decisions each pending for one node, ${SCRAPES} scrapes`, [
    ["scrape ms, median (p95)", `${round(scrape.median, 1)} (${round(scrape.p95, 1)})`],
    ["exposition KB", round(scrape.bytes / 1024, 1)],
    ["bare route, same size, ms median (limit)", round(limit.median, 2)],
    ["with EDGEFED_METRICS_PER_NODE=1: scrape ms, median (p95)", `${round(perNode.median, 1)} (${round(perNode.p95, 1)})`],
    ["with EDGEFED_METRICS_PER_NODE=1: exposition KB", round(perNode.bytes / 1024, 1)],
  ]);
  printResult({
    bench: "metrics",
    value: round(scrape.median, 1),
    unit: "ms per scrape",
    limit: round(limit.median, 2),
    extra: { nodes: NODES, scrape_p95_ms: round(scrape.p95, 1), bytes: scrape.bytes, per_node_ms: round(perNode.median, 1), per_node_bytes: perNode.bytes },
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
