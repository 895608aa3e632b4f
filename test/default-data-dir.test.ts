// Every command that opens the hub's registry finds it in the same place by
// default (./data/hub): a token made as the README says, with `hub token
// create` and no --data-dir, is one that the hub `npm start` runs accepts.
// (They used to differ: ./data for `token create`, ./data/hub for `npm start`.)
import { afterAll, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { eventually, newNode, registerBody } from "./support/hub-harness.ts";
import { hubCaFile } from "./support/test-tls.ts";

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  removeTempDirs();
});

test("a token from `hub token create` is accepted by the hub `npm start` runs, both on their default data dir", async () => {
  const cwd = tempDir("edgefed-default-dir-");
  const env = { PATH: process.env.PATH };
  const created = spawnSync(BUN, [join(REPO_ROOT, "hub/main.ts"), "token", "create"], { cwd, env, encoding: "utf8" });
  expect(created.status).toBe(0);
  const token = created.stdout.trim();

  // npm start's hub and one simulated agent, on free loopback ports instead of 8080 and 8883.
  const ports = { EDGEFED_HTTP_HOST: "127.0.0.1", EDGEFED_HTTP_PORT: "0", EDGEFED_MQTT_HOST: "127.0.0.1", EDGEFED_MQTTS_PORT: "0", EDGEFED_SIM_NODES: "1" };
  const start = spawn(BUN, [join(REPO_ROOT, "scripts/start.ts")], { cwd, env: { ...env, ...ports }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(start);
  let output = "";
  start.stdout!.on("data", (chunk) => (output += chunk));
  start.stderr!.on("data", (chunk) => (output += chunk));
  const hubUrl = await eventually(() => /hub on (https:\/\/[\d.]+:\d+)/.exec(output)?.[1], 20_000, () => `npm start to be up:\n${output}`);

  const response = await fetch(`${hubUrl}/federation/register`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(registerBody(newNode("pi-from-readme"))),
    tls: { ca: readFileSync(hubCaFile(join(cwd, "data/hub")), "utf8") }, // the CA npm start's hub made, as its agents trust it
  });
  expect(response.status).toBe(201);

  const exited = new Promise<number | null>((resolve) => start.once("exit", (code) => resolve(code)));
  start.kill("SIGTERM");
  expect(await exited).toBe(0);
}, 40_000);
