// The alert sink over a real registry file: what is raised is numbered,
// logged as one line, stored (so a restart lists it and numbers on), listed
// newest first from a time, and bounded; a malformed alert is a bug and
// throws. With a webhook gate, what it decides is stored with the alert, and
// the alerts it held back are summarised once a post fits again.
import { afterEach, expect, test } from "bun:test";
import { cleanUp, closeLater, tempDir } from "../test/helpers.ts";
import { Alerts, HELD_BACK_KIND } from "./alerts.ts";
import { WebhookGate } from "./alerting/webhook-gate.ts";
import { DEFAULT_STORE_BOUNDS, type HubStore, type StoreBounds } from "./store/hub-store.ts";
import { openSqliteStore } from "./store/sqlite/sqlite-store.ts";
import { eventually } from "../test/support/hub-harness.ts";

const T = 1_700_000_000_000;

afterEach(cleanUp);

function openStore(dir: string, bounds: StoreBounds = DEFAULT_STORE_BOUNDS): HubStore {
  return closeLater(openSqliteStore(dir, bounds));
}

async function sink(store: HubStore, gate: WebhookGate | null = null, log: (line: string) => void = () => {}, clock = () => T): Promise<Alerts> {
  const alerts = await Alerts.load({ store, log, clock, gate });
  closeLater({ close: () => alerts.stop() });
  return alerts;
}

test("raised alerts are numbered, logged one line each, listed newest first from a time, and kept across a restart", async () => {
  const dir = tempDir();
  const lines: string[] = [];
  const store = openStore(dir);
  const alerts = await sink(store, null, (line) => lines.push(line));
  alerts.raise({ severity: "critical", kind: "fleet_frozen", subject: "fleet", message: "Supervisor froze the fleet: drawdown 12% past 10%", at: T });
  alerts.raise({ severity: "medium", kind: "role_conflicts", message: "5 conflicts in the last hour\nforged line", at: T + 10 });
  expect(await alerts.raise({ severity: "low", kind: "engine_unhealthy", message: "evaluation late", at: T + 20 })).toEqual({
    seq: 3,
    severity: "low",
    kind: "engine_unhealthy",
    message: "evaluation late",
    at: T + 20,
  });
  expect(lines).toEqual([
    "alert critical fleet_frozen: Supervisor froze the fleet: drawdown 12% past 10%",
    "alert medium role_conflicts: 5 conflicts in the last hour forged line",
    "alert low engine_unhealthy: evaluation late",
  ]);
  const listed = await alerts.list({ limit: 10 });
  expect(listed.map((a) => [a.seq, a.kind])).toEqual([
    [3, "engine_unhealthy"],
    [2, "role_conflicts"],
    [1, "fleet_frozen"],
  ]);
  expect(listed[1]).toEqual({ seq: 2, severity: "medium", kind: "role_conflicts", message: "5 conflicts in the last hour forged line", at: T + 10 });
  expect((await alerts.list({ since: T + 10, limit: 10 })).map((a) => a.seq)).toEqual([3, 2]);
  expect((await alerts.list({ limit: 1 })).map((a) => a.seq)).toEqual([3]);
  expect(await alerts.list({ since: T + 21, limit: 10 })).toEqual([]);

  alerts.stop();
  await store.close();
  const restarted = await sink(openStore(dir));
  expect(await restarted.list({ limit: 10 })).toEqual(listed);
  expect((await restarted.raise({ severity: "high", kind: "node_offline", subject: "pi-1", message: "pi-1 is offline", at: T + 30 })).seq).toBe(4);
  expect((await restarted.list({ limit: 10 })).map((a) => a.seq)).toEqual([4, 3, 2, 1]);
});

test("only the newest are kept, and how many went is counted", async () => {
  const alerts = await sink(openStore(tempDir(), { ...DEFAULT_STORE_BOUNDS, alertsKept: 3 }));
  for (let i = 0; i < 5; i++) alerts.raise({ severity: "high", kind: "capital_micro", message: `node ${i}`, at: T + i });
  expect((await alerts.list({ limit: 10 })).map((a) => a.message)).toEqual(["node 4", "node 3", "node 2"]);
  expect(await alerts.dropped()).toBe(2);
});

test("a malformed alert throws naming its field, and is not kept", async () => {
  const alerts = await sink(openStore(tempDir()));
  expect(() => alerts.raise({ severity: "urgent" as "high", kind: "x", message: "m", at: T })).toThrow(/^alert severity:/);
  expect(() => alerts.raise({ severity: "high", kind: "Not A Word", message: "m", at: T })).toThrow(/^alert kind:/);
  expect(() => alerts.raise({ severity: "high", kind: "x", message: "", at: T })).toThrow(/^alert message:/);
  expect(() => alerts.raise({ severity: "high", kind: "x", subject: "", message: "m", at: T })).toThrow(/^alert subject:/);
  expect(await alerts.list({ limit: 10 })).toEqual([]);
});

test("with a webhook gate: each alert is stored queued, deduplicated or held; the held are summarised in one post once one fits", async () => {
  const store = openStore(tempDir());
  const lines: string[] = [];
  const gate = new WebhookGate({ posts: 2, windowMs: 300, dedupMs: 60_000 });
  const alerts = await sink(store, gate, (line) => lines.push(line), Date.now);
  const offline = (node: string) => ({ severity: "high", kind: "node_offline", subject: node, message: `${node} is offline`, at: Date.now() }) as const;
  alerts.raise(offline("pi-1"));
  alerts.raise(offline("pi-1")); // a repeat: not posted
  alerts.raise(offline("pi-2"));
  alerts.raise(offline("pi-3")); // over 2 posts in the window: held
  alerts.raise({ severity: "critical", kind: "fleet_frozen", subject: "fleet", message: "frozen", at: Date.now() });
  await alerts.settled();
  const delivery = async () => (await store.alerts.list({ limit: 10 })).map((a) => [a.seq, a.delivery]);
  expect(await delivery()).toEqual([
    [5, "held"],
    [4, "held"],
    [3, "queued"],
    [2, "deduplicated"],
    [1, "queued"],
  ]);
  expect(lines[1]).toEndWith("(webhook: deduplicated)");
  expect(lines[3]).toEndWith("(webhook: held)");
  // Once the window has room again: one summary post, of the highest severity held, counting them by kind.
  const summary = await eventually(async () => (await store.alerts.list({ limit: 1 }))[0]?.kind === HELD_BACK_KIND && (await store.alerts.list({ limit: 1 }))[0]);
  expect(summary).toMatchObject({ seq: 6, severity: "critical", delivery: "queued" });
  expect(summary.message).toStartWith("2 alert(s) held back by the webhook's rate limit (2 in 300 ms)");
  expect(summary.message).toContain("1 node_offline, 1 fleet_frozen");
  expect((await delivery()).slice(1, 3)).toEqual([
    [5, "summarised"],
    [4, "summarised"],
  ]);
  expect((await store.alerts.outbox(10)).map((e) => e.alert.seq)).toEqual([1, 3, 6]);
});

test("alerts held when the hub stopped are summarised after it starts again", async () => {
  const dir = tempDir();
  const limits = { posts: 1, windowMs: 200, dedupMs: 0 };
  const store = openStore(dir);
  const alerts = await sink(store, new WebhookGate(limits), () => {}, Date.now);
  alerts.raise({ severity: "low", kind: "node_back", subject: "pi-1", message: "pi-1 is back", at: Date.now() });
  alerts.raise({ severity: "high", kind: "node_offline", subject: "pi-2", message: "pi-2 is offline", at: Date.now() });
  alerts.stop();
  await alerts.settled();
  await store.close();
  const again = openStore(dir);
  await sink(again, new WebhookGate(limits), () => {}, Date.now);
  const summary = await eventually(async () => (await again.alerts.list({ limit: 1 }))[0]?.kind === HELD_BACK_KIND && (await again.alerts.list({ limit: 1 }))[0]);
  expect(summary).toMatchObject({ seq: 3, severity: "high", delivery: "queued" });
  expect((await again.alerts.list({ limit: 10, delivery: "summarised" })).map((a) => a.seq)).toEqual([2]);
});
