// The agent as it ships: a single-file arm64 binary (bun build --compile),
// run under qemu as a Raspberry Pi 4 (Cortex-A72) and a Pi 3 / Zero 2 W
// (Cortex-A53), both ARMv8.0 without LSE atomics: some Bun arm64 builds died
// there with "Illegal instruction" (bun#26544). Each registers with a real
// hub, heartbeats, and judges intents through its local API on a Unix socket
// (Bun.serve's `unix` listener in the compiled binary, mode 0660).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { intentStream } from "./fixtures/intents.ts";
import { REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { arm64AgentBinary, QEMU, qemuArgs } from "./support/agent-binary.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { bindNotifyReceiver } from "./support/notify-receiver.ts";

let binary: string;
let t: TestHub;
const children: ChildProcess[] = [];

beforeAll(async () => {
  binary = arm64AgentBinary();
  t = await startTestHub();
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await t?.stop();
  removeTempDirs();
});

describe.each(["cortex-a72", "cortex-a53"])("the arm64 agent binary under qemu -cpu %s", (cpu) => {
  test("registers, heartbeats and judges intents", async () => {
    const nodeId = `qemu-${cpu}`;
    // Settings as flash writes them: an env file, owner-only.
    const envFile = join(tempDir(), "agent.env");
    const settings = {
      EDGEFED_HUB_URL: t.hub.httpUrl,
      EDGEFED_HUB_CA: t.hub.tls!.caFile,
      EDGEFED_ENROLL_TOKEN: t.enrollmentToken(),
      EDGEFED_NODE_ID: nodeId,
      EDGEFED_DATA_DIR: join(tempDir(), "state"),
      EDGEFED_KERNEL_CONFIG: join(REPO_ROOT, "examples/core_gates.env"),
      EDGEFED_API_SOCKET: join(tempDir(), "agent.sock"),
    };
    writeFileSync(envFile, Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
    // As under systemd's Type=notify: the bun:ffi notify client in the compiled arm64 binary.
    const notify = bindNotifyReceiver(join(tempDir(), "notify.sock"));
    const agent = spawn(QEMU, [...qemuArgs(cpu), binary], {
      env: { PATH: process.env.PATH, EDGEFED_AGENT_ENV: envFile, NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: "1000000" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(agent);
    let log = "";
    agent.stdout!.on("data", (chunk) => (log += chunk));
    agent.stderr!.on("data", (chunk) => (log += chunk));

    const socket = await eventually(() => /local intent API on unix:(\S+)"/.exec(log)?.[1], 60_000, () => `the agent under ${cpu} to start:\n${log}`);
    expect(statSync(socket).mode & 0o777).toBe(0o660);
    const view = await eventually(async () => {
      const v = (await t.api("GET", `/federation/nodes/${nodeId}`)).body;
      return v.heartbeat?.count >= 1 && v;
    }, 30_000, "a heartbeat at the hub");
    expect(view).toMatchObject({ arch: "arm64", health: { state: "healthy" } });

    const intents = intentStream(5, { seed: 5, prefix: cpu });
    const response = await fetch("http://localhost/v1/intents", { unix: socket, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(intents) });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { seq: number }[]).map((v) => v.seq)).toEqual([1, 2, 3, 4, 5]);
    await eventually(async () => (await t.api("GET", `/federation/nodes/${nodeId}`)).body.verdicts.last_seq === 5, 30_000, "verdicts at the hub");

    await eventually(() => notify.messages.includes("WATCHDOG=1"), 10_000, "a watchdog ping");
    const exited = new Promise<number | null>((resolve) => agent.once("exit", (code) => resolve(code)));
    agent.kill("SIGTERM");
    expect(await exited).toBe(0);
    notify.close();
    expect(notify.messages[0]).toStartWith("READY=1\n");
    expect(notify.messages.at(-1)).toBe("STOPPING=1");
    expect(log).not.toContain("Illegal instruction");
  }, 120_000);
});
