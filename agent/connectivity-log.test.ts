// The connectivity log: which changes answer onlineAt, what forgetBefore keeps,
// and that both survive a reopen of the store file.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanUp, closeLater, tempDir } from "../test/helpers.ts";
import { openAgentDatabase } from "./agent-schema.ts";
import { ConnectivityLog } from "./connectivity-log.ts";

afterAll(cleanUp);

test("onlineAt follows the last change at or before the time; before any change the agent was offline", () => {
  const log = new ConnectivityLog(closeLater(openAgentDatabase(":memory:")));
  expect(log.onlineAt(50)).toBe(false);
  log.record(true, 100);
  log.record(true, 150); // no change, not recorded
  log.record(false, 200);
  log.record(true, 300);
  expect([99, 100, 199, 200, 299, 300, 1e12].map((t) => log.onlineAt(t))).toEqual([false, true, true, false, false, true, true]);
});

test("forgetBefore keeps the last change at or before the time, in memory and on disk", () => {
  const path = join(tempDir(), "agent.sqlite");
  const db = openAgentDatabase(path);
  const log = new ConnectivityLog(db);
  for (const [online, at] of [[true, 100], [false, 200], [true, 300], [false, 400]] as const) log.record(online, at);
  log.forgetBefore(350);
  expect([250, 300, 350, 400].map((t) => log.onlineAt(t))).toEqual([false, true, true, false]); // 250 is before what is kept: it answers as before any change
  db.close();
  const reopened = new ConnectivityLog(closeLater(openAgentDatabase(path)));
  expect([299, 300, 399, 400].map((t) => reopened.onlineAt(t))).toEqual([false, true, true, false]);
  expect(closeLater(openAgentDatabase(path)).prepare("SELECT count(*) AS n FROM connectivity_changes").get<{ n: number }>()!.n).toBe(2);
});

test("a clock stepped back does not reorder the log: the change counts from the last one, in memory and on disk alike", () => {
  const path = join(tempDir(), "agent.sqlite");
  const db = openAgentDatabase(path);
  const log = new ConnectivityLog(db);
  log.record(true, 1_000);
  log.record(false, 400); // restarted with an older clock
  expect([999, 1_000, 5_000].map((t) => log.onlineAt(t))).toEqual([false, false, false]);
  db.close();
  const reopened = new ConnectivityLog(closeLater(openAgentDatabase(path)));
  expect([999, 1_000, 5_000].map((t) => reopened.onlineAt(t))).toEqual([false, false, false]);
});
