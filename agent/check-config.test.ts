// Tests for check-config.ts: what start-up needs on disk beyond well-formed
// settings (a valid kernel config, a writable data dir), each problem naming
// the setting it comes from.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAgentSettings, type AgentSettings } from "../protocol/agent-env.ts";
import { BUN, removeTempDirs, tempDir } from "../test/helpers.ts";
import { checkAgentConfig } from "./check-config.ts";
import { loadHubTls } from "../hub/tls/hub-pki.ts";

afterAll(removeTempDirs);

/** The defaults, with a hub URL and no env file. */
const DEFAULTS: AgentSettings = parseAgentSettings([], { EDGEFED_HUB_URL: "http://hub.lan:8080" }, { hostname: () => "pi-test", readFile: () => null });

describe("checkAgentConfig", () => {
  function setup(gates = "MIN_NOTIONAL_USD=50\nEDGE_MULTIPLIER=2.5\n") {
    const dir = tempDir();
    const kernelConfig = join(dir, "core_gates.env");
    writeFileSync(kernelConfig, gates);
    const dataDir = join(dir, "data");
    mkdirSync(dataDir);
    return { dir, settings: { ...DEFAULTS, kernelConfig, dataDir, apiSocket: join(dir, "agent.sock") } };
  }

  test("the socket's directory must exist and be writable: the agent does not make it (the unit's RuntimeDirectory does)", () => {
    const { dir, settings } = setup();
    const absent = join(dir, "run", "agent.sock");
    expect(checkAgentConfig({ ...settings, apiSocket: absent }, { env: {} })).toEqual([
      `EDGEFED_API_SOCKET (--api-socket): ${absent}: ${join(dir, "run")} is not a directory (the systemd unit makes /run/edgefed; elsewhere give a socket path in a writable directory, or an empty one for none)`,
    ]);
    expect(checkAgentConfig({ ...settings, apiSocket: null }, { env: {} })).toEqual([]);
  });

  test("a good setup has no problems; a data dir that does not exist yet but can be made is fine", () => {
    const { dir, settings } = setup();
    expect(checkAgentConfig(settings, { env: {} })).toEqual([]);
    expect(checkAgentConfig({ ...settings, dataDir: join(dir, "new") }, { env: {} })).toEqual([]);
    expect(checkAgentConfig({ ...settings, dataDir: join(dir, "new", "deeper", "still") }, { env: {} })).toEqual([]);
  });

  test("the pinned hub CA must be a readable PEM certificate", () => {
    const { dir, settings } = setup();
    const ca = join(dir, "hub-ca.pem");
    writeFileSync(ca, "not a certificate\n");
    expect(checkAgentConfig({ ...settings, hubCa: ca }, { env: {} })).toEqual([`EDGEFED_HUB_CA (--hub-ca): ${ca}: not a PEM certificate`]);
    const missing = checkAgentConfig({ ...settings, hubCa: join(dir, "absent.pem") }, { env: {} });
    expect(missing[0]).toStartWith(`EDGEFED_HUB_CA (--hub-ca): ${join(dir, "absent.pem")}: cannot read: `);
    const made = loadHubTls({ dataDir: join(dir, "hub"), extraSans: [], certFile: "", keyFile: "", caFile: "" }, Date.now(), () => {});
    expect(checkAgentConfig({ ...settings, hubCa: made.caFile }, { env: {} })).toEqual([]);
  });

  test("a missing kernel config", () => {
    const { dir, settings } = setup();
    const missing = join(dir, "absent.env");
    const found = checkAgentConfig({ ...settings, kernelConfig: missing }, { env: {} });
    expect(found).toHaveLength(1);
    expect(found[0]).toStartWith(`EDGEFED_KERNEL_CONFIG (--kernel-config): ${missing}: cannot read: `);
    expect(found[0]).toContain("ENOENT");
  });

  test("an invalid kernel config names its file and line", () => {
    const { settings } = setup("MIN_NOTIONAL_USD=50\nEDGE_MULTIPLIER=lots\nMIN_HOLD_SECS=300\n");
    expect(checkAgentConfig(settings, { env: {} })).toEqual([
      `EDGEFED_KERNEL_CONFIG (--kernel-config): ${settings.kernelConfig}:2: EDGE_MULTIPLIER: "lots" is not a number`,
      `EDGEFED_KERNEL_CONFIG (--kernel-config): ${settings.kernelConfig}:3: MIN_HOLD_SECS: unknown gate variable (did you mean MIN_HOLD_SECONDS?)`,
    ]);
  });

  test("gate variables in the environment are checked too, as at start-up", () => {
    const { settings } = setup();
    expect(checkAgentConfig(settings, { env: { MAX_TRADES_10MIN: "-3" } })).toEqual([
      "EDGEFED_KERNEL_CONFIG (--kernel-config): environment: MAX_TRADES_10MIN: -3 is negative",
    ]);
  });

  test("a data dir that is a file, or under a file", () => {
    const { dir, settings } = setup();
    const file = join(dir, "plain-file");
    writeFileSync(file, "x");
    expect(checkAgentConfig({ ...settings, dataDir: file }, { env: {} })).toEqual([`EDGEFED_DATA_DIR (--data-dir): ${file}: exists but is not a directory`]);
    expect(checkAgentConfig({ ...settings, dataDir: join(file, "data") }, { env: {} })).toEqual([
      `EDGEFED_DATA_DIR (--data-dir): ${join(file, "data")}: does not exist and cannot be created: ${file} is not a directory`,
    ]);
  });

  test("reports every problem together", () => {
    const { dir, settings } = setup();
    const file = join(dir, "plain-file");
    writeFileSync(file, "x");
    const found = checkAgentConfig({ ...settings, kernelConfig: join(dir, "absent.env"), dataDir: file }, { env: {} });
    expect(found).toHaveLength(2);
    expect(found[0]).toStartWith("EDGEFED_KERNEL_CONFIG");
    expect(found[1]).toStartWith("EDGEFED_DATA_DIR");
  });

  // Root may write anywhere, so as root the check runs in a child process as nobody.
  const isRoot = process.getuid?.() === 0;
  const setpriv = Bun.which("setpriv");
  function checkUnprivileged(settings: AgentSettings, cwd: string): string[] {
    if (!isRoot) return checkAgentConfig(settings, { env: {} });
    const script = `import { checkAgentConfig } from ${JSON.stringify(join(import.meta.dir, "check-config.ts"))};
      console.log(JSON.stringify(checkAgentConfig(${JSON.stringify(settings)}, { env: {} })));`;
    const run = Bun.spawnSync([setpriv!, "--reuid=65534", "--regid=65534", "--clear-groups", BUN, "-e", script], {
      cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd, BUN_INSTALL_CACHE_DIR: join(cwd, ".cache") },
    });
    if (run.exitCode !== 0) throw new Error(`child failed: ${run.stderr.toString()}`);
    return JSON.parse(run.stdout.toString()) as string[];
  }

  test.skipIf(isRoot && !setpriv)("an unwritable data dir, or one that cannot be created; an unwritable socket directory", () => {
    const { dir, settings } = setup();
    chmodSync(dir, 0o755); // let an unprivileged child in
    chmodSync(settings.kernelConfig, 0o644);
    const locked = join(dir, "locked");
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    const uid = isRoot ? 65534 : process.getuid!();
    try {
      expect(checkUnprivileged({ ...settings, dataDir: locked, apiSocket: join(locked, "agent.sock") }, dir)).toEqual([
        `EDGEFED_DATA_DIR (--data-dir): ${locked}: not writable by this user (uid ${uid})`,
        `EDGEFED_API_SOCKET (--api-socket): ${join(locked, "agent.sock")}: ${locked} is not writable by this user (uid ${uid})`,
      ]);
      expect(checkUnprivileged({ ...settings, dataDir: join(locked, "data", "sub"), apiSocket: null }, dir)).toEqual([
        `EDGEFED_DATA_DIR (--data-dir): ${join(locked, "data", "sub")}: does not exist and cannot be created: ${locked} is not writable by this user (uid ${uid})`,
      ]);
    } finally {
      chmodSync(locked, 0o755);
    }
  });
});
