// The whole way from card to fleet, short of a real Pi: flash writes an image
// for a running hub, first boot's installer puts the agent into a scratch
// root as it would on the Pi, and the installed arm64 binary, started under
// qemu the way its systemd unit starts it (settings from the two environment
// files), registers with the hub and heartbeats over MQTT.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { arm64AgentBinary, QEMU, qemuArgs } from "./support/arm64-agent.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { extractBootFile, makePiImage } from "./support/pi-image.ts";

let hub: TestHub;
let agent: ChildProcess | null = null;

beforeAll(async () => {
  hub = await startTestHub();
});

afterAll(async () => {
  agent?.kill("SIGKILL");
  await hub?.stop();
  removeTempDirs();
});

/** KEY=VALUE lines as systemd's EnvironmentFile= reads the files flash writes. */
function environmentFile(path: string): Record<string, string> {
  const lines = readFileSync(path, "utf8").split("\n").filter((line) => line.trim() && !line.startsWith("#"));
  return Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

test("a flashed image's agent registers with the hub and heartbeats", async () => {
  const dir = tempDir("edgefed-boot-");
  const image = makePiImage(dir, "pi.img", { cloudInit: true, bootMiB: 256 });
  const nodeId = "pi-boot-01";
  const token = hub.enrollmentToken();
  const flash = spawnSync(BUN, [join(REPO_ROOT, "scripts/flash.ts"), "--boot", image.path, "--node-id", nodeId, "--hub", hub.hub.httpUrl, "--agent", arm64AgentBinary()], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, EDGEFED_ENROLL_TOKEN: token },
  });
  expect(flash.stderr).toBe("");
  expect(flash.status).toBe(0);

  // First boot, into a scratch root instead of the Pi's /.
  const boot = join(dir, "boot");
  const root = join(dir, "root");
  mkdirSync(boot);
  mkdirSync(join(root, "etc"), { recursive: true });
  for (const db of ["passwd", "group", "shadow", "gshadow"]) writeFileSync(join(root, "etc", db), "");
  extractBootFile(image, "edgefed", boot);
  const install = spawnSync("sh", [join(boot, "edgefed/install.sh"), "--root", root], { encoding: "utf8" });
  expect(install.status).toBe(0);

  // As the unit starts it: the settings come in through the environment (EnvironmentFile=),
  // the state directory is the unit's StateDirectory.
  const environment = {
    PATH: process.env.PATH,
    ...environmentFile(join(root, "etc/edgefed/agent.env")),
    ...environmentFile(join(root, "etc/edgefed/core_gates.env")),
    EDGEFED_KERNEL_CONFIG: join(root, "etc/edgefed/core_gates.env"),
    EDGEFED_DATA_DIR: join(dir, "var-lib-edgefed"),
    EDGEFED_API_PORT: "0",
  };
  agent = spawn(QEMU, [...qemuArgs("cortex-a72"), join(root, "usr/local/bin/edgefed-agent")], { env: environment, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  agent.stdout!.on("data", (chunk) => (log += chunk));
  agent.stderr!.on("data", (chunk) => (log += chunk));

  const view = await eventually(async () => {
    const v = (await hub.api("GET", `/federation/nodes/${nodeId}`)).body;
    return v.heartbeat?.count >= 1 && v;
  }, 90_000, () => `the flashed node to register and heartbeat; its log:\n${log}`);
  expect(view).toMatchObject({ node_id: nodeId, arch: "arm64", health: { state: "healthy" } });
  expect(log).not.toContain(token);

  const exited = new Promise<number | null>((resolve) => agent!.once("exit", (code) => resolve(code)));
  agent.kill("SIGTERM");
  expect(await exited).toBe(0);
  agent = null;
}, 180_000);
