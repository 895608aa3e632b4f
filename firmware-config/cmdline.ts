// cmdline.txt edits. The firmware hands the kernel the file's first line, so
// it must stay one line; flash adds its tokens at the end and first removes
// any it (or an earlier format) added before, so writing a card twice, or in
// the other format, leaves exactly one set.
import type { BootFormat } from "./flash-options.ts";

/** Raspberry Pi Imager's way to run a script once (Bookworm): systemd runs it, then reboots. */
export const FIRSTRUN_TOKENS = ["systemd.run=/boot/firstrun.sh", "systemd.run_success_action=reboot", "systemd.unit=kernel-command-line.target"];

export class CmdlineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CmdlineError";
  }
}

const isFlashToken = (token: string) =>
  token.startsWith("ds=nocloud") || token.startsWith("systemd.run=") || token.startsWith("systemd.run_success_action=") || token === "systemd.unit=kernel-command-line.target";

/**
 * The new cmdline.txt: `current`'s tokens without earlier first-boot tokens,
 * then the ones `format` needs, and the Wi-Fi regulatory domain when given.
 */
export function editCmdline(current: string, format: BootFormat, options: { instanceId: string; wifiCountry: string | null }): string {
  const lines = current.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (lines.length === 0) throw new CmdlineError("cmdline.txt is empty: it should hold the kernel command line (root=..., rootwait, ...)");
  if (lines.length > 1) throw new CmdlineError(`cmdline.txt has ${lines.length} lines, but the firmware reads only the first: join them into one line first`);
  let tokens = lines[0]!.trim().split(/\s+/).filter((token) => !isFlashToken(token));
  if (options.wifiCountry) {
    tokens = tokens.filter((token) => !token.startsWith("cfg80211.ieee80211_regdom="));
    tokens.push(`cfg80211.ieee80211_regdom=${options.wifiCountry}`);
  }
  if (format === "cloud-init") tokens.push(`ds=nocloud;i=${options.instanceId}`);
  else tokens.push(...FIRSTRUN_TOKENS);
  return `${tokens.join(" ")}\n`;
}
