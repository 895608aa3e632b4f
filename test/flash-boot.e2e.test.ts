// The whole way from card to fleet, short of a real Pi: flash writes an image
// for a running hub; first boot's installer puts the agent into a scratch
// root as it would on the Pi; then the installed unit's own ExecStartPre and
// ExecStart lines run the installed arm64 binary under qemu as the unit's
// user, with the unit's environment files and systemd's notify socket. qemu's
// -L prefix makes the scratch root the binary's /, so it finds
// /etc/edgefed/core_gates.env there and /etc/edgefed/agent.env unreadable
// (root's, 0600), as on the Pi. The node registers with the hub, heartbeats
// over MQTT, tells systemd it is ready, and serves its local API on a socket
// in the unit's runtime directory, mode 0660 with the unit's group. With TLS
// on, flash puts the hub's CA on the card and the node pins it for HTTPS and
// MQTTS.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { arm64AgentBinary, QEMU } from "./support/agent-binary.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { bindNotifyReceiver } from "./support/notify-receiver.ts";
import { envValues, makePiImage, scratchInstall } from "./support/pi-image.ts";

let hub: TestHub;
let agent: ChildProcess | null = null;

beforeAll(async () => {
  hub = await startTestHub(); // TLS on, as every hub by default
});

afterAll(async () => {
  agent?.kill("SIGKILL");
  await hub?.stop();
  removeTempDirs();
});


/** A unit's setting, each value in order (ExecStartPre=, EnvironmentFile=, ...). */
function unitValues(unit: string, key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]!);
}

test("a flashed image boots into a registered, heartbeating node, started the way its unit starts it; the card carries the hub's CA and the node pins it for HTTPS and MQTTS", async () => {
  const { root } = await bootFlashedNode(hub, "pi-boot-01", ["--hub-ca", hub.hub.tls!.caFile]);
  expect(readFileSync(join(root, "etc/edgefed/hub-ca.pem"), "utf8")).toBe(hub.hub.tls!.ca);
}, 180_000);

test("a lab hub in plaintext (EDGEFED_ALLOW_PLAINTEXT=1): a card for its http:// URL carries no CA and the node still boots into it", async () => {
  const plainHub = await startTestHub({ tls: false });
  try {
    const { root } = await bootFlashedNode(plainHub, "pi-boot-plain");
    expect(existsSync(join(root, "etc/edgefed/hub-ca.pem"))).toBe(false);
  } finally {
    await plainHub.stop();
  }
}, 180_000);

/** Flashes an image for `hub` (with `flashArgs` besides), installs it into a scratch root, runs the unit's commands under qemu until the node heartbeats, and stops it. */
async function bootFlashedNode(hub: TestHub, nodeId: string, flashArgs: string[] = []): Promise<{ root: string }> {
  const dir = tempDir("edgefed-boot-");
  chmodSync(dir, 0o755); // the unit's user walks into it
  const image = makePiImage(dir, "pi.img", { cloudInit: true, bootMiB: 256 });
  const token = hub.enrollmentToken();
  const flash = spawnSync(BUN, [join(REPO_ROOT, "scripts/flash.ts"), "--boot", image.path, "--node-id", nodeId, "--hub", hub.hub.httpUrl, "--agent", arm64AgentBinary(), ...flashArgs], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, EDGEFED_ENROLL_TOKEN: token },
  });
  expect(flash.stderr).toBe("");
  expect(flash.status).toBe(0);

  // First boot, into a scratch root instead of the Pi's /.
  const { root, install } = scratchInstall(image, dir, "pi");
  expect(install().status).toBe(0);
  chmodSync(root, 0o755);
  symlinkSync("/usr/aarch64-linux-gnu/lib", join(root, "lib")); // the arm64 loader and libc, for qemu's -L

  // The unit as installed: its user, its environment files, its state directory, its commands.
  const unit = readFileSync(join(root, "etc/systemd/system/edgefed-agent.service"), "utf8");
  const user = unitValues(unit, "User")[0]!;
  const uid = Number(new RegExp(`^${user}:x:(\\d+):`, "m").exec(readFileSync(join(root, "etc/passwd"), "utf8"))![1]);
  const group = unitValues(unit, "Group")[0]!;
  const gid = Number(new RegExp(`^${group}:x:(\\d+):`, "m").exec(readFileSync(join(root, "etc/group"), "utf8"))![1]);
  const stateRoot = join(dir, "var-lib");
  mkdirSync(join(stateRoot, unitValues(unit, "StateDirectory")[0]!), { recursive: true });
  chmodSync(stateRoot, 0o755);
  chownSync(join(stateRoot, unitValues(unit, "StateDirectory")[0]!), uid, gid);
  // RuntimeDirectory=, as systemd makes it: the unit's user and group, RuntimeDirectoryMode=.
  const runtimeDir = join(dir, "run", unitValues(unit, "RuntimeDirectory")[0]!);
  mkdirSync(runtimeDir, { recursive: true });
  chownSync(runtimeDir, uid, gid);
  chmodSync(runtimeDir, Number.parseInt(unitValues(unit, "RuntimeDirectoryMode")[0]!, 8));
  const socket = join(runtimeDir, "agent.sock");
  const environment: Record<string, string> = { PATH: "/usr/bin:/bin" };
  for (const file of unitValues(unit, "EnvironmentFile")) Object.assign(environment, envValues(readFileSync(join(root, file), "utf8")));
  const notify = bindNotifyReceiver(`@edgefed-boot-test-${process.pid}`);
  Object.assign(environment, { NOTIFY_SOCKET: notify.address, WATCHDOG_USEC: String(Number.parseInt(unitValues(unit, "WatchdogSec")[0]!) * 1_000_000) });
  const command = (line: string) => {
    const [binary, ...args] = line.replaceAll("%S", stateRoot).split(" ");
    return ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", QEMU, "-L", root, "-cpu", "cortex-a72", join(root, binary!), ...args];
  };
  const run = (line: string) => {
    const [program, ...args] = command(line);
    // The one departure from the unit: the runtime directory is not /run/edgefed on this machine.
    return spawn(program!, args, { env: { ...environment, EDGEFED_API_SOCKET: socket }, stdio: ["ignore", "pipe", "pipe"] });
  };

  try {
    const check = run(unitValues(unit, "ExecStartPre")[0]!);
    let checkLog = "";
    check.stdout!.on("data", (chunk) => (checkLog += chunk));
    check.stderr!.on("data", (chunk) => (checkLog += chunk));
    const checked = await new Promise<number | null>((resolve) => check.once("exit", resolve));
    expect(checkLog).toContain(`configuration ok (node ${nodeId})`);
    expect(checked).toBe(0);

    agent = run(unitValues(unit, "ExecStart")[0]!);
    let log = "";
    agent.stdout!.on("data", (chunk) => (log += chunk));
    agent.stderr!.on("data", (chunk) => (log += chunk));

    const view = await eventually(async () => {
      const v = (await hub.api("GET", `/federation/nodes/${nodeId}`)).body;
      return v.heartbeat?.count >= 1 && v;
    }, 90_000, () => `the flashed node to register and heartbeat; its log:\n${log}`);
    expect(view).toMatchObject({ node_id: nodeId, arch: "arm64", health: { state: "healthy" } });
    expect(log).toContain('"envFileStatus":"unreadable"'); // root's agent.env: the settings came through the environment
    expect(log).not.toContain(token);
    await eventually(() => notify.messages.some((m) => m.startsWith("READY=1")), 10_000, "READY=1 on the notify socket");
    expect(statSync(socket)).toMatchObject({ uid, gid, mode: 0o140660 }); // a socket, the strategy group's
    expect((await fetch("http://localhost/v1/status", { unix: socket })).status).toBe(200);

    const exited = new Promise<number | null>((resolve) => agent!.once("exit", (code) => resolve(code)));
    agent.kill("SIGTERM");
    expect(await exited).toBe(0);
    agent = null;
  } finally {
    notify.close();
  }
  return { root };
}
