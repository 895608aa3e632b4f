// The unit files in systemd/: `systemd-analyze verify` finds nothing to say
// about them, their `systemd-analyze security --offline=true` exposure is 2.0
// or lower, and the command lines they run parse with the programs' own
// settings parsers. The binaries the units name do not exist on a build
// machine, so each unit is checked inside a temporary root (--root=) holding
// the system's unit directory, stub executables at the paths the unit names,
// and the unit itself in etc/systemd/system.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { DEFAULT_API_SOCKET, DEFAULT_API_TOKEN_FILE, parseAgentSettings } from "../protocol/agent-env.ts";
import { parseHubSettings } from "../hub/settings.ts";
import { REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";

const UNIT_DIR = join(REPO_ROOT, "systemd");
const SYSTEM_UNITS = "/usr/lib/systemd/system"; // sysinit.target and friends, which every service depends on
const MAX_EXPOSURE = 2.0;
const units = readdirSync(UNIT_DIR).filter((f) => f.endsWith(".service")).sort();

afterAll(removeTempDirs);

/** `Key=value` lines of a unit, comments and section headers left out. */
function directives(text: string): { key: string; value: string }[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#") && !line.startsWith(";") && !line.startsWith("["))
    .map((line) => {
      const at = line.indexOf("=");
      return { key: line.slice(0, at), value: line.slice(at + 1) };
    });
}

/** The argv of each Exec*= line, with systemd's prefixes (-@:+!) dropped and %S, %C expanded as for a system unit. */
function commands(text: string): string[][] {
  return directives(text)
    .filter((d) => d.key.startsWith("Exec"))
    .map((d) => d.value.replace(/^[-@:+!]+/, "").replace(/%S/g, "/var/lib").replace(/%C/g, "/var/cache").split(/\s+/));
}

/** A root for systemd-analyze: the system's units, a stub at every executable the unit runs, the unit installed. */
function unitRoot(name: string, text: string): string {
  const root = tempDir("edgefed-units-");
  cpSync(SYSTEM_UNITS, join(root, SYSTEM_UNITS), { recursive: true });
  for (const [executable] of commands(text)) {
    const stub = join(root, executable!);
    mkdirSync(dirname(stub), { recursive: true });
    writeFileSync(stub, "#!/bin/sh\nexit 0\n");
    chmodSync(stub, 0o755);
  }
  mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
  writeFileSync(join(root, "etc/systemd/system", name), text);
  return root;
}

function analyze(args: string[]) {
  const run = spawnSync("systemd-analyze", args, { encoding: "utf8", env: { ...process.env, SYSTEMD_PAGER: "", SYSTEMD_COLORS: "0" } });
  if (run.error) throw new Error(`systemd-analyze: ${run.error.message} (Debian package systemd)`);
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

function verify(name: string, text: string) {
  return analyze(["verify", "--man=false", `--root=${unitRoot(name, text)}`, name]);
}

test("the units are there", () => {
  expect(units).toEqual(["edgefed-agent.service", "edgefed-hub.service"]);
});

describe.each(units)("%s", (name) => {
  const text = readFileSync(join(UNIT_DIR, name), "utf8");

  test("systemd-analyze verify passes with nothing to say", () => {
    // It exits 0 on "Unknown key ..., ignoring", so its silence is the check.
    expect(verify(name, text)).toEqual({ status: 0, output: "" });
  });

  test(`systemd-analyze security --offline=true: exposure ${MAX_EXPOSURE.toFixed(1)} or lower`, () => {
    const { status, output } = analyze(["security", "--offline=true", "--no-pager", `--root=${unitRoot(name, text)}`, name]);
    expect(status, output).toBe(0);
    const exposure = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(output)?.[1];
    expect(exposure, output).toBeDefined();
    expect(Number(exposure)).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  test("runs as its own user from its StateDirectory, restarted always, with the JIT-compatible hardening", () => {
    const d = new Map<string, string[]>();
    for (const { key, value } of directives(text)) d.set(key, [...(d.get(key) ?? []), value]);
    const stateDir = d.get("StateDirectory")?.[0];
    expect(d.get("User")?.[0]).toBe(stateDir); // edgefed, edgefed-hub
    expect(d.get("Restart")).toEqual(["always"]);
    expect(d.get("ExecStart")?.[0]).toContain(`--data-dir=%S/${stateDir}`);
    for (const [key, value] of [["ProtectSystem", "strict"], ["ProtectHome", "yes"], ["PrivateTmp", "yes"], ["NoNewPrivileges", "yes"], ["CapabilityBoundingSet", ""]]) {
      expect(d.get(key!), key).toEqual([value!]);
    }
    expect(d.get("MemoryMax")).toHaveLength(1);
    expect(d.get("SystemCallFilter")).toEqual(["@system-service", "~@privileged @resources"]);
    // JavaScriptCore's JIT needs a writable and executable mapping; the unit says why in a comment.
    expect(d.get("MemoryDenyWriteExecute")).toEqual(["no"]);
    expect(text).toMatch(/#[^\n]*MemoryDenyWriteExecute[\s\S]*MemoryDenyWriteExecute=no/);
  });
});

test("verify is not silent about a mistake (the check above can fail)", () => {
  const text = readFileSync(join(UNIT_DIR, "edgefed-agent.service"), "utf8").replace(/^RestartSec=3$/m, "RestartSecs=3");
  const result = verify("edgefed-agent.service", text);
  expect(result.output).toContain("Unknown key 'RestartSecs'");
});

test("the agent unit: Type=notify with a watchdog, check-config first, and its command lines parse as agent settings", () => {
  const text = readFileSync(join(UNIT_DIR, "edgefed-agent.service"), "utf8");
  const d = directives(text);
  const value = (key: string) => d.filter((x) => x.key === key).map((x) => x.value);
  expect(value("Type")).toEqual(["notify"]);
  expect(value("NotifyAccess")).toEqual(["main"]);
  expect(value("WatchdogSec")).toHaveLength(1);
  expect(value("RestartSec")).toEqual(["3"]);
  expect(value("EnvironmentFile")).toEqual(["/etc/edgefed/agent.env", "/etc/edgefed/core_gates.env"]);
  // The local API's socket and token file: in the runtime directory, which only the strategy group may enter.
  expect(value("RuntimeDirectory")).toEqual(["edgefed"]);
  expect(value("RuntimeDirectoryMode")).toEqual(["0750"]);
  expect(value("RuntimeDirectoryPreserve")).toEqual(["restart"]); // the token outlives a restart
  expect(value("Group")).toEqual(["edgefed-strategy"]);
  expect(value("SupplementaryGroups")).toEqual([]); // mapped to nogroup under PrivateUsers=yes
  expect(value("PrivateUsers")).toEqual(["yes"]);
  for (const file of [DEFAULT_API_SOCKET, DEFAULT_API_TOKEN_FILE]) expect(dirname(file)).toBe("/run/edgefed");
  const [pre, main] = commands(text);
  expect(pre).toEqual(["/usr/local/bin/edgefed-agent", "check-config", "--data-dir=/var/lib/edgefed"]);
  expect(main![0]).toBe("/usr/local/bin/edgefed-agent");
  const envFile = join(tempDir(), "agent.env");
  writeFileSync(envFile, "");
  const env = { EDGEFED_AGENT_ENV: envFile, EDGEFED_OFFLINE: "1", EDGEFED_NODE_ID: "pi-01" };
  for (const args of [pre!.slice(2), main!.slice(1)]) expect(parseAgentSettings(args, env).dataDir).toBe("/var/lib/edgefed");
});

test("the hub unit: bun hub/main.ts from the install dir, and its flags parse as hub settings", () => {
  const text = readFileSync(join(UNIT_DIR, "edgefed-hub.service"), "utf8");
  const [main] = commands(text);
  expect(main!.slice(0, 2)).toEqual(["/opt/edgefed/node_modules/.bin/bun", "/opt/edgefed/hub/main.ts"]);
  expect(basename(main![1]!)).toBe("main.ts");
  expect(parseHubSettings(main!.slice(2), {}).dataDir).toBe("/var/lib/edgefed-hub");
});
