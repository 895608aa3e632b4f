// The fleet simulator's strategies, end to end on a short run: two simulated
// agents against a real hub (embedded broker), reporting every 50 ms, get
// portfolio snapshots, health, model reports and closes with their outcome to
// the hub, where they appear in each node's view and in the federation
// events export.
import { afterAll, expect, test } from "bun:test";
import { Fleet } from "../agent/fleet-sim.ts";
import { FederationEvent } from "../protocol/federation-events.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

let hub: TestHub | undefined;
let fleet: Fleet | undefined;
afterAll(async () => {
  await fleet?.stop().catch(() => {});
  await hub?.stop().catch(() => {});
  removeTempDirs();
});

test("two simulated agents' reports and closes reach the hub", async () => {
  hub = await startTestHub();
  const lines: string[] = [];
  fleet = await Fleet.start({
    nodes: 2,
    hubUrl: hub.hub.httpUrl,
    hubCa: hub.hub.tls!.caFile, // as npm start's simulated agents pin the hub's CA
    token: hub.enrollmentToken(),
    rate: 0,
    reportEveryS: 0.05,
    seed: 42,
    dataDir: tempDir("edgefed-sim-"),
    prefix: "simtest",
    log: (line) => lines.push(line),
  });
  const exported = async () => {
    const response = await hub!.fetch(`/api/federation/events?limit=10000`, { headers: { authorization: `Bearer ${hub!.adminToken}` } });
    return (await response.text())
      .split("\n")
      .filter(Boolean)
      .map((line) => FederationEvent.parse(JSON.parse(line)));
  };
  const kinds = ["portfolio", "health", "model", "close"];
  const seen = (events: FederationEvent[], node: string) => new Set<string>(events.flatMap((e) => (e.type !== "tick" && e.node === node ? [e.type] : [])));
  const events = await eventually(
    async () => {
      const all = await exported();
      return ["simtest-001", "simtest-002"].every((node) => kinds.every((kind) => seen(all, node).has(kind))) && all;
    },
    30_000,
    "every kind of report from both simulated nodes",
  );
  const close = events.find((e) => e.type === "close")!;
  expect(close.type === "close" && typeof close.close.pnl_usd === "number" && close.close.exit !== undefined).toBe(true);
  const view = (await hub.api("GET", "/federation/nodes/simtest-001")).body;
  expect(view.reports.portfolio.report.total_equity).toBeGreaterThan(0);
  expect(view.reports.health.report.ess_state).toBeString();
  expect(view.reports.models.length).toBeGreaterThan(0);
  expect(view.closes.count).toBeGreaterThan(0);
  expect(lines.filter((line) => line.includes("refused"))).toEqual([]);
}, 60_000);
