// The webhook gate (webhook-gate.ts), with time given: a repeat about the
// same subject within the window is not posted, a change of kind is; at most
// `posts` in any window, the rest (and all after them while any wait) held
// and summarised once one fits; and a
// gate seeded from stored alerts carries on as the one before the restart.
import { expect, test } from "bun:test";
import type { StoredAlert } from "../store/hub-store.ts";
import { WebhookGate } from "./webhook-gate.ts";

const T = 1_700_000_000_000;
let seq = 0;
const alert = (subject: string, kind = "node_offline", severity: StoredAlert["severity"] = "high", at = T): StoredAlert => ({
  seq: ++seq,
  severity,
  kind,
  subject,
  message: `${subject} ${kind}`,
  at,
  delivery: "none",
});

test("a repeat about the same subject within the window is deduplicated; another kind about it, or the window past, is posted", () => {
  const gate = new WebhookGate({ posts: 100, windowMs: 60_000, dedupMs: 1000 });
  expect(gate.admit(alert("pi-1"), T)).toBe("queued");
  expect(gate.admit(alert("pi-1"), T + 999)).toBe("deduplicated");
  expect(gate.admit(alert("pi-2"), T + 999)).toBe("queued");
  expect(gate.admit(alert("pi-1", "node_back"), T + 999)).toBe("queued");
  expect(gate.admit(alert("pi-1"), T + 999)).toBe("queued"); // offline, back, offline: each says something new
  expect(gate.admit(alert("pi-2"), T + 1999)).toBe("queued"); // pi-2's last post is 1000 ms old
  const noDedup = new WebhookGate({ posts: 100, windowMs: 60_000, dedupMs: 0 });
  expect([noDedup.admit(alert("x"), T), noDedup.admit(alert("x"), T)]).toEqual(["queued", "queued"]);
});

test("at most `posts` in any window; the rest are held and summarised in one post when one fits, with the highest severity", () => {
  const gate = new WebhookGate({ posts: 2, windowMs: 60_000, dedupMs: 0 });
  expect(gate.admit(alert("a"), T)).toBe("queued");
  expect(gate.admit(alert("b"), T + 10)).toBe("queued");
  const held = [alert("c", "node_back", "low"), alert("d", "fleet_frozen", "critical"), alert("e", "node_back", "low")];
  for (const a of held) expect(gate.admit(a, T + 20)).toBe("held");
  expect(gate.heldCount).toBe(3);
  expect(gate.heldSummary(T + 59_999)).toBeNull();
  expect(gate.nextSummaryAt(T + 30_000)).toBe(T + 60_000);
  expect(gate.heldSummary(T + 60_000)).toEqual({ alerts: held, severity: "critical", kinds: { node_back: 2, fleet_frozen: 1 }, mostSevere: "d fleet_frozen", since: T });
  expect(gate.heldCount).toBe(0);
  expect(gate.nextSummaryAt(T + 60_000)).toBeNull();
  // The summary took a post: with b's still in the window, the next one is held.
  expect(gate.admit(alert("f"), T + 60_001)).toBe("held");
  expect(gate.admit(alert("g"), T + 60_005)).toBe("held");
  expect(gate.nextSummaryAt(T + 60_005)).toBe(T + 60_010);
  expect(gate.admit(alert("h"), T + 60_010)).toBe("held"); // b's post has left the window, but f and g wait: h joins them
  expect(gate.heldSummary(T + 60_010)).toMatchObject({ kinds: { node_offline: 3 } });
  expect(gate.admit(alert("i"), T + 60_010)).toBe("held"); // the summary took that post
});

test("seeded from the stored alerts: what was posted lately still dedups and counts against the limit, and what was held is summarised", () => {
  const gate = new WebhookGate({ posts: 2, windowMs: 60_000, dedupMs: 600_000 });
  const posted = { ...alert("pi-1", "node_offline", "high", T - 30_000), delivery: "delivered" } as const;
  const older = { ...alert("pi-2", "node_offline", "high", T - 300_000), delivery: "queued" } as const;
  const deduplicated = { ...alert("pi-3", "node_offline", "high", T - 10_000), delivery: "deduplicated" } as const;
  const held = { ...alert("pi-4", "node_back", "low", T - 5000), delivery: "held" } as const;
  gate.seed([held, deduplicated, posted, older], [held], T);
  expect(gate.admit(alert("pi-1"), T)).toBe("deduplicated");
  expect(gate.admit(alert("pi-2"), T)).toBe("deduplicated"); // 5 min ago: within 10
  const pi3 = alert("pi-3");
  expect(gate.admit(pi3, T)).toBe("held"); // never posted, but one held before the restart still waits
  expect(gate.heldSummary(T)).toMatchObject({ alerts: [{ seq: held.seq }, { seq: pi3.seq }], severity: "high", kinds: { node_back: 1, node_offline: 1 }, mostSevere: "pi-3 node_offline", since: T - 5000 });
  expect(gate.admit(alert("pi-5"), T)).toBe("held"); // pi-1's post 30 s ago and the summary fill the minute
});
