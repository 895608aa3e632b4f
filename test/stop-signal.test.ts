// systemd stops a service with SIGTERM, an operator with Ctrl-C (SIGINT), and
// either may come while the program is still starting. Hub and agent listen
// for both from before start-up, so such a stop is a clean one once start-up
// is done (exit 0, hub/state offline published, stores closed) rather than
// Bun's default death by signal.
import { afterAll, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { eventually } from "./support/hub-harness.ts";

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  removeTempDirs();
});

interface Started {
  output(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

function start(program: string, env: Record<string, string>): Started {
  const child = spawn(BUN, [join(REPO_ROOT, program)], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return {
    output: () => output,
    exit: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
    kill: (signal) => child.kill(signal),
  };
}

const hubEnv = () => ({
  EDGEFED_DATA_DIR: tempDir("edgefed-hub-signal-"),
  EDGEFED_HTTP_HOST: "127.0.0.1",
  EDGEFED_HTTP_PORT: "0",
  EDGEFED_MQTT_HOST: "127.0.0.1",
  EDGEFED_MQTT_PORT: "0",
  EDGEFED_MQTTS_PORT: "0", // TLS is on: the embedded broker listens on MQTTS only
  EDGEFED_ADMIN_TOKEN: "signal-admin-token-0123456789abcdef",
});

/** An agent in simulation only (no hub), with an empty env file of its own rather than /etc's. */
function agentEnv(): Record<string, string> {
  const dir = tempDir("edgefed-agent-signal-");
  writeFileSync(join(dir, "agent.env"), "", { mode: 0o600 });
  return {
    EDGEFED_AGENT_ENV: join(dir, "agent.env"),
    EDGEFED_OFFLINE: "1",
    EDGEFED_NODE_ID: "signal-pi",
    EDGEFED_DATA_DIR: join(dir, "state"),
    EDGEFED_KERNEL_CONFIG: join(REPO_ROOT, "examples/core_gates.env"),
    EDGEFED_API_SOCKET: join(dir, "agent.sock"),
  };
}

/** Each program, with what it logs: `stopped` is a line it prints once its stop has finished, where it has one. */
const programs = [
  { name: "hub", program: "hub/main.ts", env: hubEnv, stopped: "stopped" },
  { name: "agent", program: "agent/main.ts", env: agentEnv, stopped: null },
];

/** Whether `output` (JSON log lines: stdout is a pipe) holds a line from `name` with message `msg`. */
function logged(output: string, name: string, msg: string): boolean {
  return output.split("\n").some((line) => {
    try {
      const entry = JSON.parse(line);
      return entry.name === name && entry.msg === msg;
    } catch {
      return false; // a line still being written
    }
  });
}

for (const { name, program, env, stopped } of programs) {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${name}: ${signal} during start-up stops it cleanly once it is up`, async () => {
      const started = start(program, env());
      await eventually(() => logged(started.output(), name, "starting"), 15_000, `${name} starting`);
      started.kill(signal);
      expect(await started.exit).toEqual({ code: 0, signal: null });
      expect(logged(started.output(), name, `${signal}: stopping`)).toBe(true);
      if (stopped) expect(logged(started.output(), name, stopped)).toBe(true);
    }, 30_000);
  }
}

test("hub and agent: SIGTERM once running stops them cleanly", async () => {
  const hub = start("hub/main.ts", hubEnv());
  const agent = start("agent/main.ts", agentEnv());
  await eventually(() => hub.output().includes("HTTP API on") && agent.output().includes("local intent API on"), 15_000, "both up");
  hub.kill("SIGTERM");
  agent.kill("SIGTERM");
  expect(await hub.exit).toEqual({ code: 0, signal: null });
  expect(await agent.exit).toEqual({ code: 0, signal: null });
}, 30_000);
