import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, removeTempDirs, tempDir } from "../test/helpers.ts";
import {
  BOOT_DIR,
  FLASH_MARK,
  installId,
  renderAgentEnv,
  renderFirstBootFiles,
  renderFirstrunConf,
  renderMetaData,
  renderNetworkConfig,
  renderUserData,
  wpaPsk,
  type PlannedFile,
} from "./first-boot-files.ts";
import type { FlashCommon, NodeProvision, Wifi } from "./flash-options.ts";

afterAll(removeTempDirs);

const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9k6CIiVf1rOJqB7s7p2m1DTZQz0t5x3X1m1H0f2Q7d operator@laptop";

/** Files copied to the card are read (the instance id hashes them): these stand in for the binary and the gate config. */
const AGENT_BINARY = join(tempDir(), "edgefed-agent-linux-arm64");
writeFileSync(AGENT_BINARY, "stand-in agent binary");
const KERNEL_CONFIG = join(REPO_ROOT, "examples/core_gates.env");

function common(overrides: Partial<FlashCommon> = {}): FlashCommon {
  return {
    hubUrl: "http://hub.lan:8080",
    enrollToken: "enroll-7f3a9c1e2b",
    agentBinary: AGENT_BINARY,
    kernelConfig: KERNEL_CONFIG,
    sshKey: SSH_KEY,
    sshUser: "admin",
    capabilities: "kernel,sim",
    format: null,
    dryRun: false,
    staging: false,
    ...overrides,
  };
}

const WIFI: Wifi = { ssid: "Home Net", passphrase: "correct horse battery", country: "DE" };

function node(overrides: Partial<NodeProvision> = {}): NodeProvision {
  return { nodeId: "pi-01", hostname: "kitchen-pi", wifi: WIFI, ...overrides };
}

/** Writes `content` to a temp file and returns its path. */
function tempFile(name: string, content: string): string {
  const path = join(tempDir("edgefed-firstboot-"), name);
  writeFileSync(path, content);
  return path;
}

/** `cloud-init schema --config-file` on `userData` (Debian package cloud-init): its exit code and output. */
function cloudInitSchema(userData: string): { status: number | null; output: string } {
  const result = spawnSync("cloud-init", ["schema", "--config-file", tempFile("user-data", userData)], { encoding: "utf8" });
  if (result.error) throw new Error(`cloud-init (Debian package cloud-init) did not run: ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Parses YAML with PyYAML's safe_load (the parser cloud-init itself uses) and returns it as JSON. */
function pyYaml(text: string): unknown {
  const result = spawnSync("/usr/bin/python3", ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))"], { input: text, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`python3 yaml: ${result.stderr || result.error}`);
  return JSON.parse(result.stdout);
}

describe("wpaPsk", () => {
  test("matches the IEEE 802.11i test vector (passphrase \"password\", SSID \"IEEE\")", () => {
    expect(wpaPsk({ ssid: "IEEE", passphrase: "password", country: "US" })).toBe("f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e");
  });

  test("matches the IEEE 802.11i test vector (passphrase \"ThisIsAPassword\", SSID \"ThisIsASSID\")", () => {
    expect(wpaPsk({ ssid: "ThisIsASSID", passphrase: "ThisIsAPassword", country: "US" })).toBe("0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af");
  });

  test("depends on the SSID as well as the passphrase", () => {
    expect(wpaPsk({ ssid: "IEEE2", passphrase: "password", country: "US" })).not.toBe(wpaPsk({ ssid: "IEEE", passphrase: "password", country: "US" }));
  });

  test("a 64-hex-digit passphrase is the key itself, passed through lowercased", () => {
    const hex = "F42C6FC52DF0EBEF9EBB4B90B38A5F902E83FE1B135A70E23AED762E9710A12E";
    expect(wpaPsk({ ssid: "anything", passphrase: hex, country: "US" })).toBe(hex.toLowerCase());
  });

  test("63 hex digits are a passphrase, not a key", () => {
    const hex63 = "a".repeat(63);
    const psk = wpaPsk({ ssid: "net", passphrase: hex63, country: "US" });
    expect(psk).toMatch(/^[0-9a-f]{64}$/);
    expect(psk).not.toContain(hex63);
  });
});

describe("renderAgentEnv", () => {
  test("exactly the expected KEY=VALUE lines", () => {
    const text = renderAgentEnv(node(), common());
    expect(text.endsWith("\n")).toBe(true);
    const assignments = text.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
    expect(assignments).toEqual([
      "EDGEFED_NODE_ID=pi-01",
      "EDGEFED_HUB_URL=http://hub.lan:8080",
      "EDGEFED_ENROLL_TOKEN=enroll-7f3a9c1e2b",
      "EDGEFED_CAPABILITIES=kernel,sim",
      "EDGEFED_KERNEL_CONFIG=/etc/edgefed/core_gates.env",
    ]);
    // Everything else is comments, the first one carrying the mark flash knows its files by.
    expect(text.split("\n")[0]).toContain(FLASH_MARK);
  });

  test("holds no Wi-Fi or SSH settings", () => {
    const text = renderAgentEnv(node(), common());
    expect(text).not.toContain(WIFI.passphrase);
    expect(text).not.toContain(wpaPsk(WIFI));
    expect(text).not.toContain("ssh-ed25519");
  });
});

describe("renderFirstrunConf", () => {
  /** Sources the conf in a real shell and prints the six variables NUL-separated. */
  function sourceIn(shell: string, conf: string): string[] {
    const file = tempFile("firstrun.conf", conf);
    const script = `. "$1"; printf '%s\\0' "$EDGEFED_HOSTNAME" "$WIFI_SSID" "$WIFI_PSK_HEX" "$WIFI_COUNTRY" "$SSH_USER" "$SSH_KEY"`;
    const result = spawnSync(shell, ["-c", script, "sh", file], { encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    return result.stdout.split("\0").slice(0, -1);
  }

  test("round-trips through bash, with quotes, $, backticks and spaces in the SSID", () => {
    const ssid = `it's "my" $HOME \`id\` net`;
    const sshKey = `${SSH_KEY.replace("operator@laptop", "o'brien's $(rm -rf /) key")}`;
    const wifi = { ssid, passphrase: "pa$$ 'wo\"rd' `x`", country: "GB" };
    const conf = renderFirstrunConf(node({ wifi }), common({ sshKey, sshUser: "pi" }));
    expect(sourceIn("bash", conf)).toEqual(["kitchen-pi", ssid, wpaPsk(wifi), "GB", "pi", sshKey]);
  });

  test("round-trips through sh (dash), which is /bin/sh on Raspberry Pi OS", () => {
    const ssid = `a'b"c$d\`e f\\g`;
    const wifi = { ssid, passphrase: "password123", country: "DE" };
    const conf = renderFirstrunConf(node({ wifi }), common());
    expect(sourceIn("sh", conf)).toEqual(["kitchen-pi", ssid, wpaPsk(wifi), "DE", "admin", SSH_KEY]);
  });

  test("without Wi-Fi or SSH key the variables are set and empty", () => {
    const conf = renderFirstrunConf(node({ wifi: null }), common({ sshKey: null }));
    expect(sourceIn("bash", conf)).toEqual(["kitchen-pi", "", "", "", "admin", ""]);
  });

  test("holds the derived PSK, never the passphrase", () => {
    const conf = renderFirstrunConf(node(), common());
    expect(conf).toContain(wpaPsk(WIFI));
    expect(conf).not.toContain(WIFI.passphrase);
  });

  test("starts with the flash mark in a comment", () => {
    expect(renderFirstrunConf(node(), common()).split("\n")[0]).toMatch(new RegExp(`^# ${FLASH_MARK}`));
  });
});

describe("renderUserData", () => {
  test("passes cloud-init's schema check with an SSH key", () => {
    const userData = renderUserData(node(), common());
    const { status, output } = cloudInitSchema(userData);
    expect(output).toContain("Valid cloud-config");
    expect(status).toBe(0);
  });

  test("passes cloud-init's schema check without an SSH key", () => {
    const userData = renderUserData(node(), common({ sshKey: null }));
    const { status, output } = cloudInitSchema(userData);
    expect(output).toContain("Valid cloud-config");
    expect(status).toBe(0);
  });

  test("the schema check can fail (it is not a check that passes anything)", () => {
    const broken = renderUserData(node(), common()).replace("lock_passwd: true", 'lock_passwd: "no way"');
    expect(cloudInitSchema(broken).status).not.toBe(0);
  });

  const BOOTCMD = `[ ! -e /boot/firmware/${BOOT_DIR}/install-id ] || cmp -s /boot/firmware/${BOOT_DIR}/install-id /etc/edgefed/installed-id || sh /boot/firmware/${BOOT_DIR}/install.sh --start`;

  test("users, bootcmd and runcmd parse as YAML with the expected values", () => {
    const parsed = Bun.YAML.parse(renderUserData(node(), common())) as Record<string, unknown>;
    expect(parsed.hostname).toBe("kitchen-pi");
    expect(parsed.manage_etc_hosts).toBe(true);
    expect(parsed.ssh_pwauth).toBe(false);
    expect(parsed.users).toEqual([
      {
        name: "admin",
        groups: ["sudo", "adm"],
        shell: "/bin/bash",
        lock_passwd: true,
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        ssh_authorized_keys: [SSH_KEY],
      },
    ]);
    // bootcmd, not runcmd: it runs on every boot until the install is recorded, so a power cut mid-install is retried.
    expect(parsed.bootcmd).toEqual([["sh", "-c", BOOTCMD]]);
    expect(parsed.runcmd).toEqual([["systemctl", "enable", "--now", "ssh"]]);
  });

  test("without an SSH key: no users and no runcmd, bootcmd installs the agent", () => {
    const text = renderUserData(node(), common({ sshKey: null }));
    const parsed = Bun.YAML.parse(text) as Record<string, unknown>;
    expect(parsed.users).toBeUndefined();
    expect(parsed.bootcmd).toEqual([["sh", "-c", BOOTCMD]]);
    expect(parsed.runcmd).toBeUndefined();
    expect(text).not.toContain("ssh_authorized_keys");
    expect(text).not.toContain("systemctl");
    expect(parsed.ssh_pwauth).toBe(false);
  });

  test("starts with #cloud-config and names its node; holds neither token nor Wi-Fi secret", () => {
    const text = renderUserData(node(), common());
    expect(text.split("\n")[0]).toBe("#cloud-config");
    expect(text).toContain(FLASH_MARK);
    expect(text).toContain("pi-01");
    expect(text).not.toContain("enroll-7f3a9c1e2b");
    expect(text).not.toContain(WIFI.passphrase);
  });

  test("the same settings give the same bytes", () => {
    expect(renderUserData(node(), common())).toBe(renderUserData(node(), common()));
  });
});

describe("renderNetworkConfig", () => {
  test("holds the derived PSK as the access point's password, never the passphrase", () => {
    const text = renderNetworkConfig(WIFI);
    expect(text).toContain(wpaPsk(WIFI));
    expect(text).not.toContain(WIFI.passphrase);
    const parsed = Bun.YAML.parse(text) as { network: { version: number; ethernets: unknown; wifis: { wlan0: Record<string, unknown> } } };
    expect(parsed.network.version).toBe(2);
    expect(parsed.network.ethernets).toEqual({ eth0: { dhcp4: true, optional: true } });
    expect(parsed.network.wifis.wlan0).toEqual({
      dhcp4: true,
      optional: true,
      "regulatory-domain": "DE",
      "access-points": { "Home Net": { password: wpaPsk(WIFI) } },
    });
  });

  test("an SSID with quotes, a colon, # and $ stays one key as cloud-init's YAML parser reads it", () => {
    const wifi = { ssid: `He said "hi": #1 'x' $y \`z\` \\`, passphrase: "password123", country: "GB" };
    const parsed = pyYaml(renderNetworkConfig(wifi)) as { network: { wifis: { wlan0: { "access-points": Record<string, unknown> } } } };
    expect(parsed.network.wifis.wlan0["access-points"]).toEqual({ [wifi.ssid]: { password: wpaPsk(wifi) } });
  });

  test("a passphrase that is the 64-hex key is written lowercased, not derived again", () => {
    const key = "AB".repeat(32);
    const text = renderNetworkConfig({ ssid: "net", passphrase: key, country: "US" });
    expect(text).toContain(`password: "${key.toLowerCase()}"`);
  });
});

describe("renderMetaData", () => {
  test("holds the instance id and the host name", () => {
    const parsed = pyYaml(renderMetaData(node(), "edgefed-pi-01-0123456789ab"));
    expect(parsed).toEqual({ "instance-id": "edgefed-pi-01-0123456789ab", "local-hostname": "kitchen-pi" });
  });

  test("a host name YAML would read as a number or boolean stays a string for cloud-init", () => {
    // "1234", "true" and "0x1f" are valid node ids (and so default host names); PyYAML reads them unquoted as 1234, true and 31.
    for (const hostname of ["1234", "true", "0x1f", "on"]) {
      const parsed = pyYaml(renderMetaData(node({ nodeId: hostname, hostname }), "edgefed-x-0123456789ab")) as Record<string, unknown>;
      expect(parsed["local-hostname"]).toBe(hostname);
    }
  });
});

describe("installId", () => {
  const files = (...contents: string[]): PlannedFile[] => contents.map((content, i) => ({ path: `file-${i}`, content, secrets: [] }));

  test("stable for the same inputs, shaped edgefed-<node>-<12 hex>", () => {
    expect(installId(node(), files("a", "b", "c"))).toBe(installId(node(), files("a", "b", "c")));
    expect(installId(node(), files("a", "b", "c"))).toMatch(/^edgefed-pi-01-[0-9a-f]{12}$/);
  });

  test("changes when any one file changes, and when content moves between files", () => {
    const base = installId(node(), files("agent", "user", "net"));
    expect(installId(node(), files("agent!", "user", "net"))).not.toBe(base);
    expect(installId(node(), files("agent", "user!", "net"))).not.toBe(base);
    expect(installId(node(), files("agent", "user", "net!"))).not.toBe(base);
    expect(installId(node(), files("agent", "user", ""))).not.toBe(base);
    expect(installId(node(), files("agentuser", "", "net"))).not.toBe(base);
  });

  test("a file copied from disk counts by its content: a new agent binary alone gives a new id", () => {
    const binary = join(tempDir(), "agent-binary");
    writeFileSync(binary, "build 1");
    const copied: PlannedFile[] = [{ path: "edgefed/edgefed-agent", content: { copyFrom: binary }, secrets: [] }];
    const before = installId(node(), copied);
    writeFileSync(binary, "build 2");
    expect(installId(node(), copied)).not.toBe(before);
  });

  test("through renderFirstBootFiles: the same settings give the same id, each setting that changes a file a new one", () => {
    const id = (n: NodeProvision, c: FlashCommon) => renderFirstBootFiles(n, c, "cloud-init").installId;
    const base = id(node(), common());
    expect(id(node(), common())).toBe(base);
    const variants: [string, string][] = [
      ["hub URL (agent.env)", id(node(), common({ hubUrl: "https://hub.example" }))],
      ["enroll token (agent.env)", id(node(), common({ enrollToken: "another-token" }))],
      ["capabilities (agent.env)", id(node(), common({ capabilities: "kernel" }))],
      ["hostname (user-data)", id(node({ hostname: "garage-pi" }), common())],
      ["SSH key (user-data)", id(node(), common({ sshKey: null }))],
      ["SSH user (user-data)", id(node(), common({ sshUser: "ops" }))],
      ["Wi-Fi passphrase (network-config)", id(node({ wifi: { ...WIFI, passphrase: "another passphrase" } }), common())],
      ["Wi-Fi country (network-config)", id(node({ wifi: { ...WIFI, country: "FR" } }), common())],
      ["no Wi-Fi (network-config)", id(node({ wifi: null }), common())],
    ];
    for (const [what, changed] of variants) expect({ what, changed }).not.toEqual({ what, changed: base });
  });
});

describe("renderFirstBootFiles", () => {
  test("cloud-init: the edgefed/ files first, then network-config, user-data, the install-id, and meta-data with it", () => {
    const { files, installId: id } = renderFirstBootFiles(node(), common(), "cloud-init");
    expect(files.map((f) => f.path)).toEqual([
      `${BOOT_DIR}/edgefed-agent`,
      `${BOOT_DIR}/core_gates.env`,
      `${BOOT_DIR}/edgefed-agent.service`,
      `${BOOT_DIR}/install.sh`,
      `${BOOT_DIR}/agent.env`,
      "network-config",
      "user-data",
      `${BOOT_DIR}/install-id`,
      "meta-data",
    ]);
    const byPath = new Map(files.map((f) => [f.path, f]));
    expect(byPath.get(`${BOOT_DIR}/edgefed-agent`)!.content).toEqual({ copyFrom: common().agentBinary });
    expect(byPath.get(`${BOOT_DIR}/core_gates.env`)!.content).toEqual({ copyFrom: common().kernelConfig });
    expect(byPath.get("meta-data")!.content).toBe(renderMetaData(node(), id));
    expect(byPath.get(`${BOOT_DIR}/agent.env`)!.secrets).toEqual(["enroll-7f3a9c1e2b"]);
    expect(byPath.get("network-config")!.secrets).toEqual([wpaPsk(WIFI)]);
    expect(byPath.get(`${BOOT_DIR}/install-id`)!.content).toBe(`${id}\n`);
    expect(id).toBe(installId(node(), files.slice(0, -2))); // every file before the two that carry the id
  });

  test("cloud-init without Wi-Fi writes no network-config", () => {
    const { files } = renderFirstBootFiles(node({ wifi: null }), common(), "cloud-init");
    expect(files.some((f) => f.path === "network-config")).toBe(false);
  });

  test("firstrun: firstrun.conf, firstrun.sh and the install-id, no cloud-init files", () => {
    const { files, installId: id } = renderFirstBootFiles(node(), common(), "firstrun");
    expect(id).toBe(installId(node(), files.slice(0, -1)));
    expect(files.map((f) => f.path).slice(-3)).toEqual([`${BOOT_DIR}/firstrun.conf`, "firstrun.sh", `${BOOT_DIR}/install-id`]);
    expect(files.some((f) => ["user-data", "meta-data", "network-config"].includes(f.path))).toBe(false);
    expect(files.find((f) => f.path === `${BOOT_DIR}/firstrun.conf`)!.secrets).toEqual([wpaPsk(WIFI)]);
  });
});
