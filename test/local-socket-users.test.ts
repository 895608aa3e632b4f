// The local API's socket refuses a process outside its group, with real
// users: the agent runs as its own user with the strategy group as its group
// (as the unit runs it: User=, Group=edgefed-strategy) in a runtime directory
// made as systemd's RuntimeDirectory= makes it (the agent's user and group,
// 0750); a user in the group posts intents over the socket with curl, a user
// outside it can neither connect nor read the TCP token, and is answered 401
// on TCP. The users and the group are made with useradd/groupadd for this
// test and removed after it, so it needs root; elsewhere it is skipped.
import { afterAll, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { intentStream } from "./fixtures/intents.ts";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { eventually } from "./support/hub-harness.ts";

const isRoot = process.getuid?.() === 0;
const TOOLS = ["useradd", "groupadd", "userdel", "groupdel", "runuser", "setpriv", "curl"];
const missing = TOOLS.filter((tool) => !Bun.which(tool));
const skipWhy = !isRoot ? "not root: it creates users and a group" : missing.length ? `missing ${missing.join(", ")}` : null;
if (skipWhy) console.warn(`test/local-socket-users.test.ts skipped: ${skipWhy}`);

// Names of this run only, so parallel runs and leftovers never collide.
const tag = `${process.pid % 100000}`;
const names = { group: `efsock-grp-${tag}`, agent: `efsock-agt-${tag}`, member: `efsock-mem-${tag}`, outsider: `efsock-out-${tag}` };
const made: { users: string[]; groups: string[] } = { users: [], groups: [] };
let agent: ChildProcess | null = null;

afterAll(() => {
  agent?.kill("SIGKILL");
  for (const user of made.users) spawnSync("userdel", [user]);
  for (const group of made.groups) spawnSync("groupdel", [group]);
  removeTempDirs();
});

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${result.stderr}`);
}

function addUser(name: string, groupArgs: string[]): { uid: number; gid: number } {
  run("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ...groupArgs, name]);
  made.users.push(name);
  const [uid, gid] = new RegExp(`^${name}:x:(\\d+):(\\d+):`, "m").exec(readFileSync("/etc/passwd", "utf8"))!.slice(1).map(Number);
  return { uid: uid!, gid: gid! };
}

/** Runs `args` as `user` (runuser: no shell, no password), with only that user's groups. */
function runAs(user: string, args: string[]) {
  const result = spawnSync("runuser", ["-u", user, "--", ...args], { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test.skipIf(skipWhy !== null)("a process outside the socket's group is refused; one in it posts intents (real users, curl)", async () => {
  run("groupadd", ["--system", names.group]);
  made.groups.push(names.group);
  const gid = Number(new RegExp(`^${names.group}:x:(\\d+):`, "m").exec(readFileSync("/etc/group", "utf8"))![1]);
  const agentUser = addUser(names.agent, ["--user-group"]);
  addUser(names.member, ["--user-group", "--groups", names.group]);
  addUser(names.outsider, ["--user-group"]);

  // RuntimeDirectory=edgefed with RuntimeDirectoryMode=0750, and the agent's own state directory.
  const runtime = tempDir("edgefed-run-");
  chownSync(runtime, agentUser.uid, gid);
  chmodSync(runtime, 0o750);
  const state = tempDir("edgefed-state-");
  chownSync(state, agentUser.uid, agentUser.gid);
  const envFile = join(runtime, "agent.env");
  writeFileSync(envFile, "", { mode: 0o644 });
  const socket = join(runtime, "agent.sock");
  const tokenFile = join(runtime, "api-token");

  agent = spawn("setpriv", [`--reuid=${agentUser.uid}`, `--regid=${gid}`, "--clear-groups", BUN, join(REPO_ROOT, "agent/main.ts")], {
    env: {
      PATH: process.env.PATH,
      HOME: state,
      BUN_INSTALL_CACHE_DIR: join(state, ".cache"),
      EDGEFED_AGENT_ENV: envFile,
      EDGEFED_OFFLINE: "1",
      EDGEFED_NODE_ID: "socket-users-pi",
      EDGEFED_DATA_DIR: join(state, "data"),
      EDGEFED_KERNEL_CONFIG: join(REPO_ROOT, "examples/core_gates.env"),
      EDGEFED_API_SOCKET: socket,
      EDGEFED_API_PORT: "0",
      EDGEFED_API_TOKEN_FILE: tokenFile,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  agent.stdout!.on("data", (chunk) => (log += chunk));
  agent.stderr!.on("data", (chunk) => (log += chunk));
  const port = await eventually(() => /local intent API on 127\.0\.0\.1:(\d+)/.exec(log)?.[1], 20_000, () => `the agent to start:\n${log}`);

  // Made by the agent, as the strategy group's.
  expect(statSync(socket)).toMatchObject({ uid: agentUser.uid, gid, mode: 0o140660 });
  expect(statSync(tokenFile)).toMatchObject({ uid: agentUser.uid, gid, mode: 0o100640 });

  const [first, second, third] = intentStream(3, { seed: 14, prefix: "users" });
  const curlPost = (intent: unknown, target: string[]) => ["curl", "-sS", "-H", "content-type: application/json", "-d", JSON.stringify(intent), ...target];
  const overSocket = ["--unix-socket", socket, "http://localhost/v1/intents"];

  const member = runAs(names.member, curlPost(first, overSocket));
  expect(member.status, member.stderr).toBe(0);
  expect(JSON.parse(member.stdout)).toMatchObject({ id: first!.id, seq: 1 });

  // Outside the group: no way in through the socket (curl's 7: could not connect), the token unreadable, TCP 401.
  const outsider = runAs(names.outsider, curlPost(second, overSocket));
  expect(outsider.status).toBe(7);
  expect(runAs(names.outsider, ["cat", tokenFile]).status).not.toBe(0);
  const tcp = `http://127.0.0.1:${port}/v1/intents`;
  const noToken = runAs(names.outsider, [...curlPost(second, [tcp]), "-o", "/dev/null", "-w", "%{http_code}"]);
  expect(noToken.stdout).toBe("401");

  // In the group: the token is readable and TCP answers with it.
  const token = runAs(names.member, ["cat", tokenFile]);
  expect(token.status).toBe(0);
  const withToken = runAs(names.member, [...curlPost(third, [tcp]), "-H", `authorization: Bearer ${token.stdout.trim()}`]);
  expect(JSON.parse(withToken.stdout)).toMatchObject({ id: third!.id, seq: 2 });

  // The outsider's attempts judged nothing: the journal holds the member's two.
  const status = runAs(names.member, ["curl", "-sS", "--unix-socket", socket, "http://localhost/v1/status"]);
  expect(JSON.parse(status.stdout).kernel).toMatchObject({ evaluated: 2 });

  const exited = new Promise<number | null>((resolve) => agent!.once("exit", resolve));
  agent.kill("SIGTERM");
  expect(await exited).toBe(0);
  agent = null;
}, 60_000);
