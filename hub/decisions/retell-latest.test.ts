// After the change feed's listening connection comes back, the live stream
// is told of the latest decisions again (Decisions.retellLatest, wired in
// hub.ts): the acks other replicas committed during the outage were not heard.
import { afterAll, expect, test } from "bun:test";
import { removeTempDirs } from "../../test/helpers.ts";
import { startTestHub } from "../../test/support/hub-harness.ts";

afterAll(removeTempDirs);

test("retellLatest tells the change listeners of the latest decisions again, newest first, at most `limit`", async () => {
  const { hub, stop } = await startTestHub({ tls: false });
  try {
    const ids: string[] = [];
    for (const reason of ["one", "two", "three"]) ids.push((await hub.decisions.issue({ type: "FREEZE", target: "fleet", payload: { reason } })).decision.id);
    const told: string[] = [];
    hub.decisions.onChange((id) => told.push(id));
    await hub.decisions.retellLatest(2);
    expect(told).toEqual([ids[2]!, ids[1]!]);
  } finally {
    await stop();
  }
});
