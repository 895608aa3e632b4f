// Work packages end to end: a real hub (embedded broker), real agents
// running the built-in kinds, and hand-driven nodes for what a real agent
// does too fast to catch (a lease held, a node killed mid-job, a late
// result). A package reaches a node and succeeds exactly once; a kind the
// node does not know fails with the list it does; a killed node's package
// is placed again and completes once, and the killed node's late result is
// refused and recorded; a hub restart mid-lease loses nothing; an agent
// restarted mid-job resumes a resumable kind under the same attempt; a deadline
// expires a package nobody can take; gate.replay fanned out to the fleet
// gives each node's tally, equal to `npm run gate` over the same intents.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "../agent/agent.ts";
import { WORK_KIND_TABLE, type WorkKind } from "../agent/work-kinds.ts";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startHandWorkNode, type HandWorkNode } from "./support/work-node.ts";

let t: TestHub;
/** Work goes only to healthy nodes, and real agents report this machine's load, which other tests raise: never degraded by load here. */
const env = { EDGEFED_DEGRADED_LOAD: "1000" };
const agents: Agent[] = [];
const handNodes: HandWorkNode[] = [];
beforeAll(async () => {
  t = await startTestHub({ env });
});
afterEach(async () => {
  for (const node of handNodes.splice(0)) await node.kill();
});
afterAll(async () => {
  for (const agent of agents) await agent.stop().catch(() => {});
  await t.stop();
  removeTempDirs();
});

const submit = async (body: Record<string, unknown>) => {
  const response = await t.api("POST", "/api/federation/work", body);
  expect(response.status).toBe(201);
  return response.body;
};
const detail = async (id: string) => (await t.api("GET", `/api/federation/work/${id}`)).body;
const finished = (id: string, timeoutMs = 15_000) => {
  let last: unknown;
  return eventually(
    async () => {
      const pkg = await detail(id);
      last = pkg;
      return ["succeeded", "failed", "expired", "cancelled"].includes(pkg.state) && pkg;
    },
    timeoutMs,
    () => `work package ${id} finished (last seen: ${JSON.stringify(last)})`,
  );
};

test("a diagnostics package reaches a node and succeeds once, with status, log lines, integrity checks and disk space", async () => {
  await startOnlineAgent(t, testAgentConfig(t, "wk-diag", { capabilities: ["kernel", "diagnostics"] }), agents);
  const { id } = await submit({ kind: "diagnostics", requires: ["diagnostics"] });
  const pkg = await finished(id);
  expect(pkg).toMatchObject({ state: "succeeded", node: "wk-diag", attempt: 1, error: null });
  expect(pkg.result).toMatchObject({ node_id: "wk-diag", integrity: { agent_store: "ok", journal: "ok" }, status: expect.any(Object) });
  expect(pkg.result.disk.free_bytes).toBeGreaterThan(0);
  expect(pkg.result.log.some((line: string) => line.includes(`work ${id}`))).toBe(true);
  expect(pkg.attempts).toEqual([expect.objectContaining({ attempt: 1, node: "wk-diag", outcome: "succeeded" })]);
  expect(pkg.events.map((e: { to: string }) => e.to)).toEqual(["queued", "leased", "running", "succeeded"]);
}, 30_000);

test("a kind the node does not know fails with the kinds it does", async () => {
  const { id } = await submit({ kind: "backtest", requires: ["diagnostics"], target: "wk-diag" });
  expect(await finished(id)).toMatchObject({ state: "failed", error: "no handler for kind backtest on this node (kinds: diagnostics, gate.replay, research)" });
}, 30_000);

test("a killed node's package is placed again and completes once; the killed node's late result is refused and recorded", async () => {
  const doomed = await startHandWorkNode(t, "wk-doomed", ["slowjob"]);
  handNodes.push(doomed);
  const { id } = await submit({ kind: "slowjob", requires: ["slowjob"], lease_s: 1, max_attempts: 10 });
  const first = await eventually(() => doomed.offers.find((o) => o.id === id), 10_000, "the offer to wk-doomed");
  await doomed.kill();
  const survivor = await startHandWorkNode(t, "wk-survivor", ["slowjob"]);
  handNodes.push(survivor);
  // Until the hub sees it silent, the dead node may be offered the package again: each lease runs out.
  const taken = await eventually(() => survivor.offers.find((o) => o.id === id), 15_000, "the offer to wk-survivor");
  await survivor.result(taken, { done_by: "wk-survivor" });
  await survivor.result(taken, { done_by: "wk-survivor, redelivered" });
  expect(await finished(id)).toMatchObject({ state: "succeeded", node: "wk-survivor", attempt: taken.attempt, result: { done_by: "wk-survivor" } });

  // The doomed node was only partitioned: it comes back and says its result for attempt 1.
  await doomed.reconnect(t);
  await doomed.result(first, { done_by: "wk-doomed" });
  const refused = await eventually(async () => (await detail(id)).events.find((e: { to: string | null; attempt: number }) => e.to === null && e.attempt === 1), 10_000, "the refusal");
  expect(refused.cause).toContain(`attempt 1 is not the current ${taken.attempt}`);
  const pkg = await detail(id);
  expect(pkg).toMatchObject({ state: "succeeded", result: { done_by: "wk-survivor" } });
  expect(pkg.attempts.at(-1)).toMatchObject({ attempt: taken.attempt, node: "wk-survivor", outcome: "succeeded" });
  for (const earlier of pkg.attempts.slice(0, -1)) expect(earlier).toMatchObject({ node: "wk-doomed", outcome: "lease_expired" });
  expect(pkg.events.filter((e: { to: string }) => e.to === "succeeded").length).toBe(1);
}, 40_000);

test("a hub restart mid-lease loses nothing: the holder's result after the restart is accepted", async () => {
  const holder = await startHandWorkNode(t, "wk-holder", ["longjob"]);
  handNodes.push(holder);
  const { id } = await submit({ kind: "longjob", requires: ["longjob"], lease_s: 30 });
  const offer = await eventually(() => holder.offers.find((o) => o.id === id), 10_000, "the offer");
  await holder.kill();
  const { dataDir } = t;
  await t.stop();
  t = await startTestHub({ dataDir, env });
  expect(await detail(id)).toMatchObject({ state: "leased", node: "wk-holder", attempt: 1 });
  await holder.reconnect(t);
  await holder.result(offer, { survived: true });
  expect(await finished(id)).toMatchObject({ state: "succeeded", attempt: 1, result: { survived: true } });
}, 40_000);

test("an agent restarted mid-job resumes a resumable kind under the same attempt: the hub keeps its lease while the node is offline", async () => {
  let runs = 0;
  // The first run never ends (the stop interrupts it); the run after the restart answers.
  const probe: WorkKind = { resumable: true, run: () => (++runs === 1 ? new Promise(() => {}) : { runs }) };
  const config = testAgentConfig(t, "wk-resume", { capabilities: ["kernel", "resume.probe"], workKinds: { ...WORK_KIND_TABLE, "resume.probe": probe } });
  const agent = await startOnlineAgent(t, config, agents);
  expect((await t.api("GET", "/federation/nodes/wk-resume")).body.resumable_kinds).toEqual(["diagnostics", "gate.replay", "resume.probe"]);
  const { id } = await submit({ kind: "resume.probe", requires: ["resume.probe"], lease_s: 60 });
  await eventually(async () => (await detail(id)).state === "running", 10_000, "the package running on wk-resume");
  await agent.stop();
  await eventually(async () => (await t.api("GET", "/federation/nodes/wk-resume")).body.health?.state === "offline", 10_000, "wk-resume offline");
  const ticks = t.hub.workScheduler.ticks;
  await eventually(() => t.hub.workScheduler.ticks >= ticks + 2, 10_000, "two scheduler ticks with the node offline");
  expect(await detail(id)).toMatchObject({ state: "running", node: "wk-resume", attempt: 1 });
  await Agent.start(config).then((again) => agents.push(again));
  const pkg = await finished(id);
  expect(pkg).toMatchObject({ state: "succeeded", node: "wk-resume", attempt: 1, result: { runs: 2 } });
  expect(pkg.attempts).toEqual([expect.objectContaining({ attempt: 1, node: "wk-resume", outcome: "succeeded" })]);
}, 40_000);

test("a deadline expires a package nobody can take", async () => {
  const { id } = await submit({ kind: "diagnostics", requires: ["no-node-has-this"], deadline_s: 1 });
  expect(await finished(id)).toMatchObject({ state: "expired", error: "deadline passed", attempts: [] });
}, 30_000);

test("gate.replay fanned out to the fleet: one result per node, equal to `npm run gate` over the same intents and config", async () => {
  const entry = { side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND" };
  const from = Date.now() - 60_000;
  const intentsOf: Record<string, object[]> = {};
  for (const [nodeId, count] of [["wk-replay-a", 3], ["wk-replay-b", 5]] as const) {
    const agent = await startOnlineAgent(t, testAgentConfig(t, nodeId, { capabilities: ["kernel", "gate.replay"] }), agents);
    const intents = Array.from({ length: count }, (_, i) => ({ ...entry, id: `${nodeId}-${i}`, symbol: i % 2 ? "ETHUSDT" : "BTCUSDT", qty: 1 + i, ts: from + 1000 * i }));
    await agent.submit(intents);
    intentsOf[nodeId] = intents;
  }
  const candidate = { MIN_R_TREND: 3.5 };
  const fanned = (await t.api("POST", "/api/federation/work", { kind: "gate.replay", requires: ["gate.replay"], target: "fleet", payload: { from, to: Date.now() + 1, config: candidate } })).body;
  expect(fanned.packages.map((p: { target: string }) => p.target)).toEqual(["wk-replay-a", "wk-replay-b"]);
  const configFile = join(tempDir(), "candidate.env");
  writeFileSync(configFile, Object.entries(candidate).map(([k, v]) => `${k}=${v}\n`).join(""));
  for (const pkg of fanned.packages) {
    const done = await finished(pkg.id);
    expect(done).toMatchObject({ state: "succeeded", error: null });
    const gate = Bun.spawnSync([BUN, join(REPO_ROOT, "kernel/gate-cli.ts"), "--config", configFile], {
      stdin: new TextEncoder().encode(intentsOf[pkg.target]!.map((i) => JSON.stringify(i)).join("\n")),
      stderr: "pipe",
    });
    const verdicts = gate.stdout.toString().trim().split("\n").map((line) => JSON.parse(line));
    const byVerdict: Record<string, number> = {};
    const byReason: Record<string, number> = {};
    for (const v of verdicts) {
      byVerdict[v.verdict] = (byVerdict[v.verdict] ?? 0) + 1;
      for (const r of v.reasons) byReason[r] = (byReason[r] ?? 0) + 1;
    }
    expect(done.result).toMatchObject({ intents: intentsOf[pkg.target]!.length, truncated: false, by_verdict: byVerdict, by_reason: byReason });
    expect(done.result.changed).toBeGreaterThan(0); // MIN_R_TREND 3.5 holds what the default passed
  }
}, 60_000);
