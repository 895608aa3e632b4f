// The alert webhook's URL as a setting and in logs. A webhook URL often
// carries its secret in the path or query (Slack, Discord, ntfy tokens), so
// it is logged only as its origin: scheme, host and port.

import type { Checked } from "../../lib/settings.ts";

/** EDGEFED_ALERT_WEBHOOK_URL: empty (no webhook) or an http(s) URL; the problem never repeats the URL. */
export function webhookUrl(raw: string): Checked<string> {
  if (raw === "") return { value: raw };
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    // said below
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "" || /\s/.test(raw)) {
    return { problem: "is not an http:// or https:// URL" };
  }
  return { value: raw };
}

/** The URL as it may be logged: its origin only, "/…" standing for whatever follows. */
export function redactedUrl(raw: string): string {
  const url = new URL(raw);
  const rest = url.pathname !== "/" || url.search !== "" || url.username !== "" ? "/…" : "";
  return `${url.protocol}//${url.host}${rest}`;
}
