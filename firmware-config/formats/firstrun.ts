// Raspberry Pi Imager's first-boot script, as Raspberry Pi OS Bookworm runs
// it: systemd runs /boot/firstrun.sh once (cmdline.txt's systemd.run=) and
// reboots. firstrun.sh, next to this file, reads its settings from
// edgefed/firstrun.conf, runs edgefed/install.sh and removes its traces.
import { join } from "node:path";
import { BOOT_DIR, FLASH_MARK, fixedFile, wpaPsk, type PlannedFile } from "../first-boot-files.ts";
import type { FlashCommon, NodeProvision } from "../flash-options.ts";
import type { FirstBootFormat } from "./format.ts";

/** Raspberry Pi Imager's way to run a script once (Bookworm): systemd runs it, then reboots. */
export const FIRSTRUN_TOKENS = ["systemd.run=/boot/firstrun.sh", "systemd.run_success_action=reboot", "systemd.unit=kernel-command-line.target"];

/** A POSIX shell word: single quotes, with ' written as '\''. */
const shellWord = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** firstrun.sh's settings, as shell assignments it sources. */
export function renderFirstrunConf(node: NodeProvision, common: FlashCommon): string {
  const values: Record<string, string> = {
    EDGEFED_HOSTNAME: node.hostname,
    WIFI_SSID: node.wifi?.ssid ?? "",
    WIFI_PSK_HEX: node.wifi ? wpaPsk(node.wifi) : "",
    WIFI_COUNTRY: node.wifi?.country ?? "",
    SSH_USER: common.sshUser,
    SSH_KEY: common.sshKey ?? "",
  };
  return `# ${FLASH_MARK}; firstrun.sh reads this and deletes it\n${Object.entries(values).map(([k, v]) => `${k}=${shellWord(v)}\n`).join("")}`;
}

export const firstrun: FirstBootFormat = {
  name: "firstrun",

  // Bookworm leaves no file of its own on the boot partition: firstrun is what is left when no other format is recognised.
  recognise: () => "Raspberry Pi OS Bookworm runs firstrun.sh",

  files(node: NodeProvision, common: FlashCommon): PlannedFile[] {
    return [
      { path: `${BOOT_DIR}/firstrun.conf`, content: renderFirstrunConf(node, common), secrets: node.wifi ? [wpaPsk(node.wifi)] : [] },
      fixedFile("firstrun.sh", join(import.meta.dir, "firstrun.sh")),
    ];
  },

  filesNamingInstall: () => [],

  cmdlineTokens: () => FIRSTRUN_TOKENS,

  // Imager's own entry may point at /boot/firmware/firstrun.sh: any systemd.run= is this mechanism.
  claimsCmdlineToken: (token: string) =>
    token.startsWith("systemd.run=") || token.startsWith("systemd.run_success_action=") || token === "systemd.unit=kernel-command-line.target",
};
