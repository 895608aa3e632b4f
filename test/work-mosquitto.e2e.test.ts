// Work packages over a real Mosquitto (dynamic security): the broker's ACLs,
// derived from the topic table, let the hub offer (work/offer) and a node
// report (work/progress, work/result); a real agent runs a diagnostics
// package to success, and a hand-driven node's result is committed once.
// (test/work.e2e.test.ts covers the rest on the embedded broker.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Agent } from "../agent/agent.ts";
import { removeTempDirs } from "./helpers.ts";
import { startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { startHandWorkNode, type HandWorkNode } from "./support/work-node.ts";

let mosquitto: RunningMosquitto;
let t: TestHub;
const agents: Agent[] = [];
let hand: HandWorkNode | undefined;
beforeAll(async () => {
  mosquitto = await startMosquitto({ dynsec: true });
  // Work goes to healthy nodes only: the real agent reports this machine's load average, high on a busy test machine.
  t = await startTestHub({ mosquitto, env: { EDGEFED_DEGRADED_LOAD: "1000" } });
});
afterAll(async () => {
  await hand?.kill();
  for (const agent of agents) await agent.stop().catch(() => {});
  await t.stop();
  await mosquitto.stop();
  removeTempDirs();
});

const finished = (id: string) =>
  eventually(async () => {
    const pkg = (await t.api("GET", `/api/federation/work/${id}`)).body;
    return ["succeeded", "failed", "expired", "cancelled"].includes(pkg.state) && pkg;
  }, 15_000, `work package ${id} finished`);

test("over Mosquitto a diagnostics package reaches an agent and succeeds", async () => {
  await startOnlineAgent(t, testAgentConfig(t, "wm-agent", { capabilities: ["kernel", "diagnostics"] }), agents);
  const { id } = (await t.api("POST", "/api/federation/work", { kind: "diagnostics", requires: ["diagnostics"] })).body;
  expect(await finished(id)).toMatchObject({ state: "succeeded", node: "wm-agent", result: { integrity: { agent_store: "ok", journal: "ok" } } });
}, 30_000);

test("over Mosquitto a node's result, sent twice, is committed once", async () => {
  hand = await startHandWorkNode(t, "wm-hand", ["handjob"]);
  const { id } = (await t.api("POST", "/api/federation/work", { kind: "handjob", requires: ["handjob"] })).body;
  const offer = await eventually(() => hand!.offers.find((o) => o.id === id), 10_000, "the offer");
  await hand.result(offer, { n: 1 });
  await hand.result(offer, { n: 2 });
  expect(await finished(id)).toMatchObject({ state: "succeeded", result: { n: 1 } });
  const detail = (await t.api("GET", `/api/federation/work/${id}`)).body;
  expect(detail.events.filter((e: { to: string }) => e.to === "succeeded").length).toBe(1);
}, 30_000);
