// The agent process as systemd runs it with Type=notify: `bun agent/main.ts`
// (simulation only, temp data dir) with NOTIFY_SOCKET pointing at a real unix
// datagram socket and WATCHDOG_USEC set. READY=1 comes once the local API
// answers, WATCHDOG=1 keeps coming, STOPPING=1 comes on SIGTERM; without
// NOTIFY_SOCKET, or with one nobody listens on, the agent runs as before.
import { afterAll, afterEach, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { eventually } from "./support/hub-harness.ts";
import { bindNotifyReceiver, type NotifyReceiver } from "./support/notify-receiver.ts";

const children: ChildProcess[] = [];
const receivers: NotifyReceiver[] = [];
afterEach(() => {
  for (const r of receivers.splice(0)) r.close();
});
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  removeTempDirs();
});

function startAgent(nodeId: string, extraEnv: Record<string, string>) {
  const envFile = join(tempDir(), "agent.env");
  writeFileSync(envFile, "", { mode: 0o600 });
  const child = spawn(BUN, [join(REPO_ROOT, "agent/main.ts")], {
    env: {
      PATH: process.env.PATH,
      EDGEFED_AGENT_ENV: envFile,
      EDGEFED_OFFLINE: "1",
      EDGEFED_NODE_ID: nodeId,
      EDGEFED_DATA_DIR: join(tempDir("edgefed-sdn-agent-"), "state"),
      EDGEFED_KERNEL_CONFIG: join(REPO_ROOT, "examples/core_gates.env"),
      EDGEFED_API_SOCKET: join(tempDir("edgefed-sdn-run-"), "agent.sock"),
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let log = "";
  child.stdout!.on("data", (chunk) => (log += chunk));
  child.stderr!.on("data", (chunk) => (log += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const socket = () => eventually(() => /local intent API on unix:(\S+)"/.exec(log)?.[1], 20_000, () => `the agent to start:\n${log}`);
  return { child, exited, socket, log: () => log };
}

function receiver(): NotifyReceiver {
  const r = bindNotifyReceiver(join(tempDir("edgefed-sdn-"), "notify.sock"));
  receivers.push(r);
  return r;
}

test("under NOTIFY_SOCKET the agent sends READY=1 once its API answers, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 on SIGTERM", async () => {
  const r = receiver();
  const agent = startAgent("sdn-agent", { NOTIFY_SOCKET: r.address, WATCHDOG_USEC: "200000" }); // a ping every 100 ms
  await eventually(() => r.messages.length > 0, 20_000, () => `a first notification:\n${agent.log()}`);
  expect(r.messages[0]).toStartWith("READY=1\n"); // the first thing systemd hears
  expect(r.messages[0]).toContain("STATUS=node sdn-agent");
  const socket = /local API on unix:(\S+)/.exec(r.messages[0]!)?.[1];
  expect((await fetch("http://localhost/v1/status", { unix: socket })).status).toBe(200); // ready means the API answers

  await eventually(() => r.messages.filter((m) => m === "WATCHDOG=1").length >= 5, 10_000, "five watchdog pings");
  agent.child.kill("SIGTERM");
  expect(await agent.exited).toBe(0);
  await eventually(() => r.messages.includes("STOPPING=1"), 2000, "STOPPING=1");
  expect(r.messages.filter((m) => m.startsWith("READY=1"))).toHaveLength(1);
  expect(r.messages.at(-1)).toBe("STOPPING=1"); // no ping after it
  expect(agent.log()).not.toContain("sd_notify:"); // nothing went wrong
});

test("WATCHDOG_PID naming another process: READY=1 and STOPPING=1 but no pings", async () => {
  const r = receiver();
  const agent = startAgent("sdn-other-pid", { NOTIFY_SOCKET: r.address, WATCHDOG_USEC: "100000", WATCHDOG_PID: "1" });
  await agent.socket();
  await eventually(() => r.messages.length > 0, 5000, "READY=1");
  await Bun.sleep(400); // eight ping intervals
  agent.child.kill("SIGTERM");
  expect(await agent.exited).toBe(0);
  await eventually(() => r.messages.includes("STOPPING=1"), 2000, "STOPPING=1");
  expect(r.messages.map((m) => m.split("\n")[0])).toEqual(["READY=1", "STOPPING=1"]);
});

test("without NOTIFY_SOCKET the agent starts, answers and stops as before, saying nothing about systemd", async () => {
  const agent = startAgent("sdn-plain", { WATCHDOG_USEC: "100000" });
  const socket = await agent.socket();
  expect((await fetch("http://localhost/v1/status", { unix: socket })).status).toBe(200);
  agent.child.kill("SIGTERM");
  expect(await agent.exited).toBe(0);
  expect(agent.log()).not.toContain("sd_notify");
});

test("a NOTIFY_SOCKET nobody listens on is logged once and does not stop the agent", async () => {
  const agent = startAgent("sdn-deaf", { NOTIFY_SOCKET: join(tempDir(), "nobody.sock"), WATCHDOG_USEC: "100000" });
  const socket = await agent.socket();
  await Bun.sleep(300);
  expect((await fetch("http://localhost/v1/status", { unix: socket })).status).toBe(200);
  agent.child.kill("SIGTERM");
  expect(await agent.exited).toBe(0);
  expect(agent.log().match(/sd_notify:/g)).toHaveLength(1);
});
