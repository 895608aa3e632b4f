// The compiled agent's output, as journald or an operator sees it: the x64
// binary (bun build --compile) registers with a real hub, connects to its
// broker and stops. Every line it prints carries its time and level, the
// enrollment token and the local API's bearer token never show, and no
// deprecation warning is printed (it
// printed DEP0169 at every start: MQTT.js called url.parse() on the broker URL).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { x64AgentBinary } from "./support/agent-binary.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

let binary: string;
let t: TestHub;

beforeAll(async () => {
  binary = x64AgentBinary();
  t = await startTestHub();
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

test("the x64 agent binary: time and level on every line, no deprecation warning, no token", async () => {
  const token = t.enrollmentToken();
  const envFile = join(tempDir(), "agent.env");
  const settings = {
    EDGEFED_HUB_URL: t.hub.httpUrl,
    EDGEFED_HUB_CA: t.hub.tls!.caFile,
    EDGEFED_ENROLL_TOKEN: token,
    EDGEFED_NODE_ID: "x64-logs",
    EDGEFED_DATA_DIR: join(tempDir(), "state"),
    EDGEFED_KERNEL_CONFIG: join(REPO_ROOT, "examples/core_gates.env"),
    EDGEFED_API_SOCKET: join(tempDir(), "agent.sock"),
    EDGEFED_API_PORT: "0",
    EDGEFED_API_TOKEN_FILE: join(tempDir(), "api-token"),
  };
  writeFileSync(envFile, Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  const agent = spawn(binary, [], { env: { PATH: process.env.PATH, EDGEFED_AGENT_ENV: envFile }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  agent.stdout!.on("data", (chunk) => (stdout += chunk));
  agent.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => agent.once("exit", (code) => resolve(code)));
  try {
    // The MQTT connection is where the warning came from.
    await eventually(() => stdout.includes("connected to broker"), 20_000, () => `the agent to connect:\n${stdout}${stderr}`);
  } finally {
    agent.kill("SIGTERM");
  }
  expect(await exited).toBe(0);

  expect(stderr).toBe("");
  expect(stdout).not.toContain("DEP0169");
  expect(stdout).not.toContain(token);
  const apiToken = readFileSync(settings.EDGEFED_API_TOKEN_FILE, "utf8").trim();
  expect(apiToken).toHaveLength(43);
  expect(stdout).not.toContain(apiToken);
  const lines = stdout.trimEnd().split("\n");
  expect(lines.length).toBeGreaterThanOrEqual(4);
  for (const line of lines) {
    const entry = JSON.parse(line) as { level?: unknown; time?: unknown; msg?: unknown };
    expect(entry.level).toBeOneOf(["info", "warn", "error"]);
    expect(new Date(entry.time as string).toISOString()).toBe(entry.time as string);
    expect(typeof entry.msg).toBe("string");
  }
  expect(lines.map((line) => JSON.parse(line).msg)).toContain("SIGTERM: stopping");
}, 60_000);

/** Runs the binary with these agent.env settings until `until` shows in its output (or the bound); returns what it printed. */
async function runAgentUntil(settings: Record<string, string>, until: (output: string) => boolean, what: string): Promise<string> {
  const envFile = join(tempDir(), "agent.env");
  writeFileSync(envFile, Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  const agent = spawn(binary, [], { env: { PATH: process.env.PATH, EDGEFED_AGENT_ENV: envFile }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  agent.stdout!.on("data", (chunk) => (output += chunk));
  agent.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => agent.once("exit", (code) => resolve(code)));
  try {
    await eventually(() => until(output), 20_000, () => `${what}:\n${output}`);
  } finally {
    agent.kill("SIGTERM");
  }
  expect(await exited).toBe(0);
  return output;
}

test("the x64 agent binary pins the hub's CA file: registers and connects over HTTPS and MQTTS, and refuses a hub whose certificate comes from another CA", async () => {
  // Each with a CA of its own (test hubs share the run's CA otherwise).
  const tlsHub = await startTestHub({ ownCa: true });
  const otherHub = await startTestHub({ ownCa: true });
  try {
    const base = { EDGEFED_KERNEL_CONFIG: join(REPO_ROOT, "examples/core_gates.env"), EDGEFED_API_SOCKET: "" };
    const connected = await runAgentUntil(
      { ...base, EDGEFED_HUB_URL: tlsHub.hub.httpUrl, EDGEFED_HUB_CA: tlsHub.hub.tls!.caFile, EDGEFED_ENROLL_TOKEN: tlsHub.enrollmentToken(), EDGEFED_NODE_ID: "x64-tls", EDGEFED_DATA_DIR: join(tempDir(), "state") },
      (output) => output.includes("connected to broker"),
      "the agent to connect over TLS",
    );
    expect(connected).toContain(`registered with ${tlsHub.hub.httpUrl}`);

    // The other hub is up and its token good: only its certificate is wrong for this CA.
    const refused = await runAgentUntil(
      { ...base, EDGEFED_HUB_URL: otherHub.hub.httpUrl, EDGEFED_HUB_CA: tlsHub.hub.tls!.caFile, EDGEFED_ENROLL_TOKEN: otherHub.enrollmentToken(), EDGEFED_NODE_ID: "x64-tls-other", EDGEFED_DATA_DIR: join(tempDir(), "state") },
      (output) => output.includes("registration failed"),
      "the registration to fail",
    );
    expect(refused).toMatch(/registration failed \([^)]*certificate/i);
    expect(refused).not.toContain("registered with");
  } finally {
    await tlsHub.stop();
    await otherHub.stop();
  }
}, 60_000);
