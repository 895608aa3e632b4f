import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeTempDirs, tempDir } from "../../test/helpers.ts";
import { flashCommon, nodeProvision as node, SSH_KEY, WIFI } from "../../test/support/flash-settings.ts";
import { FLASH_MARK, wpaPsk } from "../first-boot-files.ts";
import type { FlashCommon } from "../flash-options.ts";
import { FIRSTRUN_TOKENS, firstrun, renderFirstrunConf } from "./firstrun.ts";

afterAll(removeTempDirs);

// firstrun.conf does not name the agent binary: any path will do.
const common = (overrides: Partial<FlashCommon> = {}) => flashCommon("/nonexistent/edgefed-agent", overrides);

describe("renderFirstrunConf", () => {
  /** Sources the conf in a real shell and prints the six variables NUL-separated. */
  function sourceIn(shell: string, conf: string): string[] {
    const file = join(tempDir("edgefed-firstrun-conf-"), "firstrun.conf");
    writeFileSync(file, conf);
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

describe("the firstrun format", () => {
  test("writes firstrun.conf with the Wi-Fi key as its secret, then firstrun.sh from next to its module", () => {
    const files = firstrun.files(node(), common());
    expect(files.map((f) => f.path)).toEqual(["edgefed/firstrun.conf", "firstrun.sh"]);
    expect(files[0]!.secrets).toEqual([wpaPsk(WIFI)]);
    expect(files[1]!.content).toEqual({ copyFrom: join(import.meta.dir, "firstrun.sh") });
    expect(firstrun.filesNamingInstall(node(), "edgefed-pi-01-0123456789ab")).toEqual([]);
  });

  test("starts through Imager's systemd.run= entry, and claims any such entry (Imager's own points at /boot/firmware)", () => {
    expect(firstrun.cmdlineTokens("ignored")).toEqual(FIRSTRUN_TOKENS);
    for (const token of [...FIRSTRUN_TOKENS, "systemd.run=/boot/firmware/firstrun.sh"]) expect(firstrun.claimsCmdlineToken(token)).toBe(true);
    for (const token of ["systemd.unit=rescue.target", "ds=nocloud;i=x", "rootwait"]) expect(firstrun.claimsCmdlineToken(token)).toBe(false);
  });
});
