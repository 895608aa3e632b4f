import { describe, expect, test } from "bun:test";
import { load } from "js-yaml";
import { cloudInitSchema, pyYamlLoad } from "../../test/support/cloud-init.ts";
import { flashCommon, nodeProvision as node, SSH_KEY, WIFI } from "../../test/support/flash-settings.ts";
import { BOOT_DIR, FLASH_MARK, wpaPsk } from "../first-boot-files.ts";
import type { FlashCommon } from "../flash-options.ts";
import { cloudInit, renderMetaData, renderNetworkConfig, renderUserData, toYaml } from "./cloud-init.ts";

// user-data and the rest do not name the agent binary: any path will do.
const common = (overrides: Partial<FlashCommon> = {}) => flashCommon("/nonexistent/edgefed-agent", overrides);

/** Parses YAML with PyYAML's safe_load, the reader cloud-init itself uses. */
function pyYaml(text: string): unknown {
  const [parsed] = pyYamlLoad([text]);
  if (!parsed || "error" in parsed) throw new Error(`PyYAML refused:\n${text}\n${parsed?.error}`);
  return parsed.value;
}

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
    const parsed = load(renderUserData(node(), common())) as Record<string, unknown>;
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
    const parsed = load(text) as Record<string, unknown>;
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
    const parsed = load(text) as { network: { version: number; ethernets: unknown; wifis: { wlan0: Record<string, unknown> } } };
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

describe("toYaml", () => {
  test("double-quotes every string value and escapes what YAML 1.1 may not carry or reads as a line break", () => {
    expect(toYaml({ a: "plain", b: "1234", c: "on", d: true, e: 2 })).toBe('a: "plain"\nb: "1234"\nc: "on"\nd: true\ne: 2\n');
    expect(toYaml({ s: "c\u0090d \u0085 \u2028 \u007f \ufffe \t" })).toBe('s: "c\\x90d \\N \\L \\x7F \\uFFFE \\t"\n');
  });

  test("quotes a key YAML 1.1 would read as something other than a string", () => {
    for (const key of ["on", "yes", "1_000", "1:20", "<<", "~", "null", "2001-12-14", "- a", "a: b", "#x"]) {
      expect(pyYaml(toYaml({ [key]: "v" }))).toEqual({ [key]: "v" });
    }
  });

  test("a command, a list in a list, stays on one line", () => {
    expect(toYaml({ runcmd: [["systemctl", "enable", "--now", "ssh"]] })).toBe('runcmd:\n  - ["systemctl", "enable", "--now", "ssh"]\n');
  });
});

describe("the cloud-init format", () => {
  test("files: network-config (with Wi-Fi, its key a secret) and user-data; meta-data names the instance", () => {
    expect(cloudInit.files(node(), common()).map((f) => [f.path, f.secrets])).toEqual([["network-config", [wpaPsk(WIFI)]], ["user-data", []]]);
    expect(cloudInit.files(node({ wifi: null }), common()).map((f) => f.path)).toEqual(["user-data"]);
    expect(cloudInit.filesNamingInstall(node(), "edgefed-pi-01-0123456789ab")).toEqual([{ path: "meta-data", content: renderMetaData(node(), "edgefed-pi-01-0123456789ab"), secrets: [] }]);
  });

  test("starts through ds=nocloud with the instance id, and claims any NoCloud token another tool left", () => {
    expect(cloudInit.cmdlineTokens("edgefed-pi-01-0123456789ab")).toEqual(["ds=nocloud;i=edgefed-pi-01-0123456789ab"]);
    for (const token of ["ds=nocloud;i=x", "ds=nocloud-net;s=http://10.0.0.1/"]) expect(cloudInit.claimsCmdlineToken(token)).toBe(true);
    for (const token of ["systemd.run=/boot/firstrun.sh", "root=/dev/mmcblk0p2"]) expect(cloudInit.claimsCmdlineToken(token)).toBe(false);
  });
});
