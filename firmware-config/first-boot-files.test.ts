import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { ENROLL_TOKEN, flashCommon, nodeProvision as node, WIFI } from "../test/support/flash-settings.ts";
import { BOOT_DIR, FLASH_MARK, installId, renderAgentEnv, renderFirstBootFiles, wpaPsk, type PlannedFile } from "./first-boot-files.ts";
import type { FlashCommon, NodeProvision } from "./flash-options.ts";
import { cloudInit, renderMetaData } from "./formats/cloud-init.ts";
import { firstrun } from "./formats/firstrun.ts";

afterAll(removeTempDirs);

/** Files copied to the card are read (the install-id hashes them): this stands in for the agent binary. */
const AGENT_BINARY = join(tempDir(), "edgefed-agent-linux-arm64");
writeFileSync(AGENT_BINARY, "stand-in agent binary");
const common = (overrides: Partial<FlashCommon> = {}) => flashCommon(AGENT_BINARY, overrides);

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

  test("names the hub's CA where install.sh puts it, when the card carries one", () => {
    const text = renderAgentEnv(node(), common({ hubUrl: "https://hub.lan:8443", hubCa: "/tmp/ca.pem" }));
    expect(text).toContain("\nEDGEFED_HUB_CA=/etc/edgefed/hub-ca.pem\n");
    expect(renderAgentEnv(node(), common())).not.toContain("EDGEFED_HUB_CA");
  });

  test("holds no Wi-Fi or SSH settings", () => {
    const text = renderAgentEnv(node(), common());
    expect(text).not.toContain(WIFI.passphrase);
    expect(text).not.toContain(wpaPsk(WIFI));
    expect(text).not.toContain("ssh-ed25519");
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
    const id = (n: NodeProvision, c: FlashCommon) => renderFirstBootFiles(n, c, cloudInit).installId;
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
    const { files, installId: id } = renderFirstBootFiles(node(), common(), cloudInit);
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
    expect(byPath.get(`${BOOT_DIR}/agent.env`)!.secrets).toEqual([ENROLL_TOKEN]);
    expect(byPath.get("network-config")!.secrets).toEqual([wpaPsk(WIFI)]);
    expect(byPath.get(`${BOOT_DIR}/install-id`)!.content).toBe(`${id}\n`);
    expect(id).toBe(installId(node(), files.slice(0, -2))); // every file before the two that carry the id
  });

  test("cloud-init without Wi-Fi writes no network-config", () => {
    const { files } = renderFirstBootFiles(node({ wifi: null }), common(), cloudInit);
    expect(files.some((f) => f.path === "network-config")).toBe(false);
  });

  test("firstrun: firstrun.conf, firstrun.sh and the install-id, no cloud-init files", () => {
    const { files, installId: id } = renderFirstBootFiles(node(), common(), firstrun);
    expect(id).toBe(installId(node(), files.slice(0, -1)));
    expect(files.map((f) => f.path).slice(-3)).toEqual([`${BOOT_DIR}/firstrun.conf`, "firstrun.sh", `${BOOT_DIR}/install-id`]);
    expect(files.some((f) => ["user-data", "meta-data", "network-config"].includes(f.path))).toBe(false);
    expect(files.find((f) => f.path === `${BOOT_DIR}/firstrun.conf`)!.secrets).toEqual([wpaPsk(WIFI)]);
  });
});
