// The federation engine as a leader's duty (hub/federation/federation-duty.ts)
// on a real in-process hub (SQLite, where the one hub always leads): a start
// that fails on gaining leadership is tried again while it leads; close()
// ends the duty for good; a stopped engine leaves no override listener behind.
import { afterAll, afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SoleLeadership } from "../replicas/leadership.ts";
import { removeTempDirs, tempDir } from "../../test/helpers.ts";
import { eventually, startTestHub, type TestHub } from "../../test/support/hub-harness.ts";
import { FederationDuty } from "./federation-duty.ts";

const running: TestHub[] = [];
afterEach(async () => {
  for (const hub of running.splice(0)) await hub.stop();
});
afterAll(removeTempDirs);

async function hub(): Promise<TestHub> {
  const started = await startTestHub({ tls: false });
  running.push(started);
  return started;
}

/** A second duty on a running hub's parts, reading `configFile`. */
function dutyOn({ hub: { decisions, context } }: TestHub, configFile: string, log: (line: string) => void): FederationDuty {
  return new FederationDuty({ decisions, alerts: context.alerts, store: context.store, nodes: () => [], clock: Date.now, log, configFile, hubId: "duty-test" });
}

test("a start that fails on gaining leadership is tried again while this replica leads, until the engine runs", async () => {
  const started = await hub();
  const configFile = join(tempDir(), "federation.yaml");
  writeFileSync(configFile, "roles:\n  supervisor: {mode: sometimes}\n");
  const lines: string[] = [];
  const duty = dutyOn(started, configFile, (line) => lines.push(line));
  try {
    duty.followLeadership(new SoleLeadership());
    await eventually(() => lines.some((line) => line.startsWith("starting the federation engine failed")), 5000, "the failed start logged");
    expect(duty.running).toBeNull();
    writeFileSync(configFile, "roles:\n  supervisor: {mode: advisory}\n");
    await eventually(() => duty.running !== null, 10_000, "the engine started on a retry");
  } finally {
    await duty.close();
  }
});

test("close() stops the engine for good: no start after it", async () => {
  const started = await hub();
  const duty = started.hub.federation;
  expect(duty.running).not.toBeNull();
  await duty.close();
  expect(duty.running).toBeNull();
  await duty.start();
  duty.followLeadership(new SoleLeadership());
  await duty.start();
  expect(duty.running).toBeNull();
});

test("a stopped engine removes its override listener: starting and stopping it again leaves one listener at most", async () => {
  const started = await hub();
  const { decisions, federation } = started.hub;
  await federation.stop();
  // Counts the listeners the engines register and remove (the hub's own was registered before this).
  let listening = 0;
  const subscribe = decisions.whenOverridden.bind(decisions);
  decisions.whenOverridden = (listener) => {
    listening++;
    const unsubscribe = subscribe(listener);
    return () => {
      listening--;
      unsubscribe?.();
    };
  };
  for (let round = 0; round < 3; round++) {
    await federation.start();
    expect(listening).toBe(1);
    await federation.stop();
  }
  expect(listening).toBe(0);
});
