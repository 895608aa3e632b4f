// Node offline and back alerts from a real fleet view over a real registry:
// one alert a node, none for a node just registered coming online, and a
// storm gathered: the first at once, the rest of the window in one alert.
import { afterEach, expect, test } from "bun:test";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import { Alerts } from "../alerts.ts";
import { Fleet } from "../nodes/fleet.ts";
import { openSqliteStore } from "../store/sqlite/sqlite-store.ts";
import { NodeHealthAlerts } from "./node-health-alerts.ts";

afterEach(cleanUp);

const T = 1_700_000_000_000;
const GROUP_MS = 150;

async function setUp(nodeIds: string[]) {
  const store = closeLater(openSqliteStore(tempDir()));
  const fleet = await Fleet.load(store, { heartbeatMs: 1000, offlineAfterMs: 10_000, degradedLoad: 4, listeningSince: T });
  const alerts = await Alerts.load({ store, log: () => {}, clock: () => T, gate: null });
  const watcher = new NodeHealthAlerts(alerts, fleet, () => T, GROUP_MS);
  closeLater({ close: () => watcher.stop() });
  fleet.onEvent(watcher.observe);
  for (const id of nodeIds) fleet.put(registeredNode(id, T)); // registered: offline, not heard from yet
  const say = (nodeId: string, state: "online" | "offline", at: number) => {
    const node = fleet.get(nodeId)!;
    node.live.state = state;
    node.live.stateAt = at;
    fleet.touched(node, at, state === "offline" ? "node said offline" : undefined);
  };
  const raised = async () => (await alerts.list({ limit: 100 })).reverse().map((a) => `${a.severity} ${a.kind}: ${a.message}`);
  return { say, raised };
}

test("a node heard for the first time raises nothing; going offline and coming back raise one alert each, at once", async () => {
  const { say, raised } = await setUp(["pi-1"]);
  say("pi-1", "online", T + 1);
  expect(await raised()).toEqual([]);
  say("pi-1", "offline", T + 2);
  expect(await raised()).toEqual(["high node_offline: node pi-1 is offline: node said offline"]);
  say("pi-1", "online", T + 3);
  expect(await raised()).toEqual(["high node_offline: node pi-1 is offline: node said offline", "low node_back: node pi-1 is back (healthy: heartbeat on time)"]);
});

test("a node flapping within the window is named once, only in the state it ended in, and back only once alerted offline", async () => {
  const { say, raised } = await setUp(["pi-a", "pi-b", "pi-c"]);
  for (const id of ["pi-a", "pi-b", "pi-c"]) say(id, "online", T + 1);
  say("pi-a", "offline", T + 2); // at once
  for (let i = 0; i < 10; i++) {
    say("pi-b", "offline", T + 3 + i);
    say("pi-b", "online", T + 3 + i); // ends online: not offline news
    say("pi-c", "offline", T + 3 + i);
    if (i < 9) say("pi-c", "online", T + 3 + i); // ends offline
  }
  say("pi-a", "online", T + 20); // back after being alerted offline: the first back alert, at once
  const alerts = await eventually(async () => ((await raised()).length === 3 ? raised() : false), 5000, "the gathered alerts");
  expect(alerts).toEqual([
    "high node_offline: node pi-a is offline: node said offline",
    "low node_back: node pi-a is back (healthy: heartbeat on time)",
    "high node_offline: node pi-c is offline: node said offline", // at the end of the window pi-a opened
  ]);
});

test("an offline storm of 50 nodes is two alerts: the first at once, the other 49 gathered at the end of the window", async () => {
  const ids = Array.from({ length: 50 }, (_, i) => `pi-${String(i).padStart(2, "0")}`);
  const { say, raised } = await setUp(ids);
  for (const id of ids) say(id, "online", T + 1);
  for (const id of ids) say(id, "offline", T + 2);
  expect(await raised()).toEqual(["high node_offline: node pi-00 is offline: node said offline"]);
  const both = await eventually(async () => ((await raised()).length === 2 ? raised() : false), 5000, "the gathered alert");
  expect(both[1]).toStartWith(`high nodes_offline: 49 more nodes went offline within 0.15 s: pi-01, pi-02,`);
  expect(both[1]).toEndWith("pi-20 and 29 more");
  // Back again, in a new window: one at once again, then the rest gathered.
  for (const id of ids.slice(0, 3)) say(id, "online", T + 3);
  const all = await eventually(async () => ((await raised()).length === 4 ? raised() : false), 5000, "the back alerts");
  expect(all.slice(2)).toEqual(["low node_back: node pi-00 is back (healthy: heartbeat on time)", "low nodes_back: 2 more nodes came back within 0.15 s: pi-01, pi-02"]);
});
