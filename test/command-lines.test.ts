// Every command reads its command line the same way (lib/command-line.ts,
// node:util parseArgs, strict): -h/--help prints the usage on stdout and exits
// 0; an unknown option exits 2 with one line on stderr naming it, with a guess
// where a near option exists. Each runs as a process, from an empty directory,
// so nothing it might start or write lands in the repository.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";

afterAll(removeTempDirs);

const cwd = tempDir("edgefed-cli-");

function run(command: string[], args: string[]): { code: number | null; stdout: string; stderr: string } {
  const [program, ...words] = command;
  const result = spawnSync(BUN, [join(REPO_ROOT, program!), ...words, ...args], { cwd, env: { PATH: process.env.PATH }, encoding: "utf8", timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Each command, as `npm run` starts it, and the start of its usage. */
const COMMANDS: [name: string, command: string[], usage: RegExp][] = [
  ["start", ["scripts/start.ts"], /^usage: npm start/],
  ["hub", ["hub/main.ts"], /^usage: edgefed-hub/],
  ["hub serve", ["hub/main.ts", "serve"], /^usage: edgefed-hub/],
  ["hub token create", ["hub/main.ts", "token", "create"], /^usage: edgefed-hub[\s\S]*token create options:/],
  ["hub token list", ["hub/main.ts", "token", "list"], /^usage: edgefed-hub[\s\S]*token list:/],
  ["hub operator create", ["hub/main.ts", "operator", "create"], /^usage: edgefed-hub[\s\S]*operator create NAME options/],
  ["hub operator list", ["hub/main.ts", "operator", "list"], /^usage: edgefed-hub[\s\S]*operator rotate NAME/],
  ["hub audit verify", ["hub/main.ts", "audit", "verify"], /^usage: edgefed-hub[\s\S]*audit verify:/],
  ["agent", ["agent/main.ts"], /^usage: edgefed-agent/],
  ["agent check-config", ["agent/main.ts", "check-config"], /^usage: edgefed-agent/],
  ["sim", ["agent/fleet-sim.ts"], /^usage: bun run sim/],
  ["bench", ["bench/run.ts"], /^usage: bun run bench/],
  ["loadgen", ["bench/loadgen/main.ts"], /^usage: bun run loadgen/],
  ["gate", ["kernel/gate-cli.ts"], /^usage: bun run gate/],
  ["federation replay", ["hub/federation/cli.ts", "replay"], /^usage: npm run federation -- replay/],
  ["flash", ["scripts/flash.ts"], /^bun run flash -- --boot/],
];

describe.each(COMMANDS)("%s", (_, command, usage) => {
  test("--help and -h print the usage on stdout and exit 0", () => {
    for (const flag of ["--help", "-h"]) {
      const result = run(command, [flag]);
      expect(result).toMatchObject({ code: 0, stderr: "" });
      expect(result.stdout).toMatch(usage);
    }
  });

  test("an unknown option exits 2 with one line naming it", () => {
    const result = run(command, ["--no-such-option", "x"]);
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toMatch(/^[^\n]*--no-such-option: unknown option \(see --help\)\n$/);
  });
});

test("a misspelt option gets a guess", () => {
  expect(run(["hub/main.ts"], ["--http-prot", "80"]).stderr).toBe("edgefed-hub: --http-prot: unknown option (did you mean --http-port?)\n");
  expect(run(["agent/main.ts", "check-config"], ["--hub-ulr=http://h"]).stderr).toBe("edgefed-agent: --hub-ulr: unknown option (did you mean --hub-url?)\n");
  expect(run(["agent/fleet-sim.ts"], ["--nodse", "3"]).stderr).toBe("edgefed sim: --nodse: unknown option (did you mean --nodes?)\n");
  expect(run(["scripts/flash.ts"], ["--wifi-pass", "x"]).stderr).toBe("edgefed flash: --wifi-pass: unknown option (did you mean --wifi-psk?)\n");
  expect(run(["bench/loadgen/main.ts"], ["--nodse", "3"]).stderr).toBe("edgefed loadgen: --nodse: unknown option (did you mean --nodes?)\n");
});

test("the load generator names what it lacks: a hub URL and an enrollment token", () => {
  expect(run(["bench/loadgen/main.ts"], ["--nodes", "3"])).toMatchObject({
    code: 2,
    stderr: "edgefed loadgen: --hub: the hub's URL, http:// or https:// (see --help)\nedgefed loadgen: EDGEFED_ENROLL_TOKEN: an enrollment token is required (hub token create)\n",
  });
});

test("an option missing its value, and a stray argument, are one line too", () => {
  expect(run(["kernel/gate-cli.ts"], ["--db"])).toMatchObject({ code: 2, stderr: "edgefed gate: --db: needs a value (write --db=VALUE for one starting with -)\n" });
  expect(run(["hub/main.ts", "token", "create"], ["--uses", "2", "extra"])).toMatchObject({ code: 2, stderr: "edgefed-hub: extra: unexpected argument (see --help)\n" });
});

test("TLS off without plaintext allowed is refused before anything starts, by the hub and by npm start", () => {
  for (const program of ["hub/main.ts", "scripts/start.ts"]) {
    expect(run([program], ["--tls", "off"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("EDGEFED_TLS: off sends tokens and passwords in clear; it needs EDGEFED_ALLOW_PLAINTEXT=1 as well (lab use only)"),
    });
  }
});
