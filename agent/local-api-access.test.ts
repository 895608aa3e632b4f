// Who may use the local API, on a real agent without a hub over real HTTP:
// on TCP (127.0.0.1) only with the bearer token from its token file and a
// Host naming the listener, and a refused request judges nothing; the token
// file is made 0640 when missing and kept when present; the Unix socket is
// 0660, and a socket file left by a dead agent is removed at start while a
// live one, or a file that is not a socket, is left alone and refused.
// (Another user outside the socket's group: test/local-socket-users.test.ts.)
import { afterAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { intentStream } from "../test/fixtures/intents.ts";
import { BUN, removeTempDirs, tempDir } from "../test/helpers.ts";
import { callLocalApi, testAgentConfig } from "../test/support/agent-harness.ts";
import { Agent, type AgentConfig } from "./agent.ts";

const agents: Agent[] = [];
afterAll(async () => {
  for (const agent of agents) await agent.stop();
  removeTempDirs();
});

async function startAgent(nodeId: string, overrides: Partial<AgentConfig>): Promise<Agent> {
  const agent = await Agent.start(testAgentConfig(null, nodeId, overrides));
  agents.push(agent);
  return agent;
}

const [intent, second] = intentStream(2, { seed: 14, prefix: "access" });

describe("on TCP", async () => {
  const tokenFile = join(tempDir(), "api-token");
  const agent = await startAgent("tcp-access-pi", { apiPort: 0, apiTokenFile: tokenFile });
  const token = readFileSync(tokenFile, "utf8").trim();
  const url = (path: string) => `http://127.0.0.1:${agent.apiPort}${path}`;
  const postIntent = (headers: Record<string, string>) =>
    fetch(url("/v1/intents"), { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(intent) });

  test("the token file is made 0640 with a fresh 32-byte token", () => {
    expect(statSync(tokenFile).mode & 0o777).toBe(0o640);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test("no token, a wrong one or a malformed header: 401 with WWW-Authenticate, and nothing judged", async () => {
    const refused: Record<string, string>[] = [{}, { authorization: `Bearer ${token.slice(0, -1)}x` }, { authorization: `Basic ${token}` }, { authorization: "Bearer" }, { authorization: `Bearer ${token} extra` }];
    for (const headers of refused) {
      const response = await postIntent(headers);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="edgefed-agent"');
      expect(await response.json()).toEqual({ error: "unauthorized", detail: "the local API on TCP needs Authorization: Bearer <the token in EDGEFED_API_TOKEN_FILE>" });
    }
    expect((await fetch(url("/v1/status"))).status).toBe(401); // reads too
    expect((await fetch(url("/no-such-route"))).status).toBe(401); // not even which routes exist
    expect(agent.processor.lastSeq()).toBe(0);
  });

  test("a Host other than 127.0.0.1:PORT or localhost:PORT (DNS rebinding) is 403 even with the token, and nothing is judged", async () => {
    for (const host of ["evil.example", `evil.example:${agent.apiPort}`, "127.0.0.1", `127.0.0.1:${agent.apiPort! + 1}`, `[::1]:${agent.apiPort}`]) {
      const response = await postIntent({ authorization: `Bearer ${token}`, host });
      expect(response.status).toBe(403);
      expect((await response.json()).error).toBe("forbidden_host");
    }
    expect(agent.processor.lastSeq()).toBe(0);
  });

  test("with the token (the scheme in any case) and either loopback Host, intents are judged", async () => {
    const first = await postIntent({ authorization: `Bearer ${token}` });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ id: intent!.id, seq: 1 });
    const response = await fetch(url("/v1/intents"), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `bearer ${token}`, host: `LOCALHOST:${agent.apiPort}` },
      body: JSON.stringify(second),
    });
    expect(response.status).toBe(200);
    expect(agent.processor.lastSeq()).toBe(2);
  });

  test("a token already in the file is kept; a new agent on the same file uses it", async () => {
    const again = await startAgent("tcp-access-pi-2", { apiPort: 0, apiTokenFile: tokenFile });
    expect(readFileSync(tokenFile, "utf8").trim()).toBe(token);
    expect((await callLocalApi(again, "/v1/status")).status).toBe(200);
  });
});

describe("the token file", () => {
  test("one others may read is refused at start, as is one too short to be a token, without showing it", async () => {
    const dir = tempDir();
    const open = join(dir, "open-token");
    writeFileSync(open, "a".repeat(43), { mode: 0o644 });
    await expect(startAgent("open-token-pi", { apiPort: 0, apiTokenFile: open })).rejects.toThrow(`${open}: readable by others (mode 644)`);
    const short = join(dir, "short-token");
    writeFileSync(short, "hunter2\n", { mode: 0o640 });
    const refusal = (await startAgent("short-token-pi", { apiPort: 0, apiTokenFile: short }).catch((error: Error) => error)) as Error;
    expect(refusal.message).toStartWith(`${short}: not a usable token`);
    expect(refusal.message).not.toContain("hunter2");
  });
});

describe("on the Unix socket", () => {
  test("0660, no token needed (the file's group decides), intents judged", async () => {
    const socket = join(tempDir(), "agent.sock");
    const agent = await startAgent("socket-pi", { apiSocket: socket });
    expect(statSync(socket).isSocket()).toBe(true);
    expect(statSync(socket).mode & 0o777).toBe(0o660);
    expect(statSync(socket).gid).toBe(process.getegid!());
    const answer = await callLocalApi(agent, "/v1/intents", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(intent) });
    expect(answer).toMatchObject({ status: 200, body: { id: intent!.id, seq: 1 } });
    expect(agent.apiPort).toBeNull(); // no TCP unless a port is given
    await agent.stop();
    expect(existsSync(socket)).toBe(false); // removed on the way down
  });

  test("a socket file a killed agent left behind is removed at start", async () => {
    const socket = join(tempDir(), "agent.sock");
    // A process that binds the socket and dies without cleaning up, as after kill -9.
    const dead = spawn(BUN, ["-e", `Bun.serve({ unix: ${JSON.stringify(socket)}, fetch: () => new Response("") }); process.kill(process.pid, "SIGKILL");`]);
    await new Promise((resolve) => dead.once("exit", resolve));
    expect(statSync(socket).isSocket()).toBe(true);
    const agent = await startAgent("stale-socket-pi", { apiSocket: socket });
    expect((await callLocalApi(agent, "/v1/status")).status).toBe(200);
  });

  test("a socket something listens on is left alone and the agent refuses to start; so is a file that is not a socket", async () => {
    const socket = join(tempDir(), "agent.sock");
    const other = Bun.serve({ unix: socket, fetch: () => new Response("the other one") });
    try {
      await expect(startAgent("busy-socket-pi", { apiSocket: socket })).rejects.toThrow(`${socket}: another process listens on this socket`);
      expect(await (await fetch("http://localhost/", { unix: socket })).text()).toBe("the other one");
    } finally {
      await other.stop(true);
    }
    const file = join(tempDir(), "not-a-socket");
    writeFileSync(file, "keep me");
    await expect(startAgent("file-socket-pi", { apiSocket: file })).rejects.toThrow(`${file} exists and is not a socket; not removed`);
    expect(readFileSync(file, "utf8")).toBe("keep me");
  });

  test("a socket and TCP together: each works its own way", async () => {
    const socket = join(tempDir(), "agent.sock");
    const agent = await startAgent("both-pi", { apiSocket: socket, apiPort: 0 });
    expect((await fetch("http://localhost/v1/status", { unix: socket })).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${agent.apiPort}/v1/status`)).status).toBe(401);
    expect(existsSync(agent.apiTokenFile)).toBe(true);
  });
});
