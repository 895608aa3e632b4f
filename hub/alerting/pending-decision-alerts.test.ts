// Decisions left unacknowledged past the limit (pending-decision-alerts.ts),
// over a real registry file: one alert a decision that still waits on a
// target, none for one acknowledged by all, expired, sent to nobody or not
// yet past the limit; and each looked at once, also across a restart.
import { afterEach, expect, test } from "bun:test";
import type { DecisionMessage } from "../../protocol/messages.ts";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { Alerts } from "../alerts.ts";
import { OPERATOR } from "../decisions/decision-origin.ts";
import { openSqliteStore } from "../store/sqlite/sqlite-store.ts";
import type { HubStore } from "../store/hub-store.ts";
import { PendingDecisionAlerts } from "./pending-decision-alerts.ts";

afterEach(cleanUp);

const T = 1_700_000_000_000;
const LIMIT_MS = 300_000;

function decision(seq: number, issuedAt: number, expiresAt = issuedAt + 3_600_000): DecisionMessage {
  return { id: `dec_${seq}`, seq, type: "FREEZE", target: "fleet", payload: {}, issuedAt, expiresAt, sig: "sig" } as DecisionMessage;
}

async function watcher(store: HubStore, now: () => number) {
  const alerts = await Alerts.load({ store, log: () => {}, clock: now, gate: null });
  const pending = await PendingDecisionAlerts.start({ store, alerts, limitMs: LIMIT_MS, leads: () => true, clock: now, log: () => {} });
  return {
    check: () => pending.check(),
    raised: async () => (await alerts.list({ limit: 100 })).reverse().map((a) => a.message),
    stop: () => pending.stop(),
  };
}

test("a decision still waiting on a target past the limit is alerted once, naming them; the others are not", async () => {
  const dir = tempDir();
  const store = closeLater(openSqliteStore(dir));
  const ack = (nodeId: string) => ({ nodeId, ok: true, error: null, appliedAt: T, receivedAt: T, result: null });
  await store.write(async (tx) => {
    await tx.decisions.add(decision(1, T), ["pi-a", "pi-b", "pi-c"], OPERATOR); // pi-b acknowledges
    await tx.decisions.add(decision(2, T), ["pi-a"], OPERATOR); // acknowledged by all
    await tx.decisions.add(decision(3, T, T + 1000), ["pi-a"], OPERATOR); // expired
    await tx.decisions.add(decision(4, T), [], OPERATOR); // sent to nobody
    await tx.decisions.add(decision(5, T + 200_000), ["pi-a"], OPERATOR); // not yet past the limit at T + 5 min
    await tx.decisions.addAck("dec_1", ack("pi-b"));
    await tx.decisions.addAck("dec_2", ack("pi-a"));
  });
  let now = T + LIMIT_MS;
  const first = await watcher(store, () => now);
  await first.check();
  expect(await first.raised()).toEqual(["decision dec_1 (FREEZE to fleet) not acknowledged after 300 s by 2 node(s): pi-a, pi-c"]);
  await first.check();
  expect(await first.raised()).toHaveLength(1); // looked at once

  now = T + 200_000 + LIMIT_MS;
  await first.check();
  expect((await first.raised()).at(-1)).toBe("decision dec_5 (FREEZE to fleet) not acknowledged after 300 s by 1 node(s): pi-a");

  // After a restart: nothing looked at before is alerted again.
  await first.stop();
  await store.close();
  const again = await watcher(closeLater(openSqliteStore(dir)), () => now);
  await again.check();
  expect(await again.raised()).toHaveLength(2);
  await again.stop();
});
