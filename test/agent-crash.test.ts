// kill -9 an agent in the middle of a burst, start it again, retry every
// intent: each acknowledged verdict comes back identical, every intent is
// judged once, and the hub ends up with every seq once, none missing. The
// strategy posts over the agent's Unix socket, which the killed agent leaves
// behind: the second start removes it, as nothing listens on it any more.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ChildProcess } from "node:child_process";
import { intentStream } from "./fixtures/intents.ts";
import { removeTempDirs } from "./helpers.ts";
import { startAgentProcess, writeAgentEnv, type AgentProcess } from "./support/agent-process.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

let t: TestHub;
const children: ChildProcess[] = [];
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await t.stop();
  removeTempDirs();
});

function startAgent(envFile: string): AgentProcess {
  const agent = startAgentProcess(envFile);
  children.push(agent.child);
  return agent;
}

type Verdict = { id: string; seq: number; verdict: string; reasons: string[] };

async function post(socket: string, intents: unknown[]): Promise<Verdict[]> {
  const response = await fetch("http://localhost/v1/intents", { unix: socket, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(intents) });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  return (await response.json()) as Verdict[];
}

test("kill -9 during a burst loses no acknowledged verdict and judges nothing twice", async () => {
  const envFile = writeAgentEnv(t, "crash-pi");
  const intents = intentStream(400, { seed: 21, prefix: "crash" });
  const batches = Array.from({ length: 40 }, (_, i) => intents.slice(i * 10, i * 10 + 10));

  const first = startAgent(envFile);
  const socket = await first.socket;
  await eventually(async () => (await t.api("GET", "/federation/nodes/crash-pi")).body.state?.session >= 1, 15_000, "agent online");
  const acknowledged = new Map<string, Verdict>();
  let sent = 0;
  let killed = false;
  // Settled from the start: requests cut by the kill fail, and that is expected.
  const inFlight = Promise.allSettled(
    batches.map(async (batch, i) => {
      await Bun.sleep(i * 3); // a steady burst rather than one request
      if (killed) return;
      sent++;
      for (const verdict of await post(socket, batch)) acknowledged.set(verdict.id, verdict);
      // Killed the moment 100 verdicts are acknowledged, not when a poll notices: a fast agent would finish the burst first.
      if (!killed && acknowledged.size >= 100) {
        killed = true;
        first.child.kill("SIGKILL");
      }
    }),
  );
  await eventually(() => killed, 15_000, "some verdicts before the kill");
  await inFlight;
  expect(acknowledged.size).toBeLessThan(400); // it really died mid-burst
  expect(sent).toBeGreaterThan(10);

  const second = startAgent(envFile);
  const again: Verdict[] = [];
  expect(await second.socket).toBe(socket); // the stale socket file did not stop it
  for (const batch of batches) again.push(...(await post(socket, batch)));
  for (const verdict of again) {
    const before = acknowledged.get(verdict.id);
    if (before) expect(verdict).toEqual(before); // the stored verdict, not a second evaluation
  }
  expect(again.map((v) => v.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));

  const tally = await eventually(async () => {
    const v = (await t.api("GET", "/federation/nodes/crash-pi")).body;
    return v.verdicts.last_seq === 400 && v.verdicts;
  }, 20_000, "every verdict at the hub");
  expect(tally.missing).toBe(0);
  expect((tally.by_verdict.PASS ?? 0) + (tally.by_verdict.HOLD ?? 0)).toBe(400);
  second.child.kill("SIGTERM");
}, 90_000);
