// cmdline.txt edits. The firmware hands the kernel the file's first line, so
// it must stay one line; flash adds its tokens at the end and first removes
// any that start a first-boot format (its own from an earlier writing, in
// this format or another), so writing a card twice, or in the other format,
// leaves exactly one set.
import { isFirstBootToken, type FirstBootFormat } from "./formats/index.ts";

export class CmdlineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CmdlineError";
  }
}

/**
 * The new cmdline.txt: `current`'s tokens without earlier first-boot tokens,
 * then the Wi-Fi regulatory domain when given, then the ones `format` needs.
 */
export function editCmdline(current: string, format: FirstBootFormat, options: { instanceId: string; wifiCountry: string | null }): string {
  const lines = current.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (lines.length === 0) throw new CmdlineError("cmdline.txt is empty: it should hold the kernel command line (root=..., rootwait, ...)");
  if (lines.length > 1) throw new CmdlineError(`cmdline.txt has ${lines.length} lines, but the firmware reads only the first: join them into one line first`);
  let tokens = lines[0]!.trim().split(/\s+/).filter((token) => !isFirstBootToken(token));
  if (options.wifiCountry) {
    tokens = tokens.filter((token) => !token.startsWith("cfg80211.ieee80211_regdom="));
    tokens.push(`cfg80211.ieee80211_regdom=${options.wifiCountry}`);
  }
  tokens.push(...format.cmdlineTokens(options.instanceId));
  return `${tokens.join(" ")}\n`;
}
