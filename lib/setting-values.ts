// Value checks the settings tables share (lib/settings.ts): each turns the
// text of a flag, variable or env file line into a typed value, or says what
// is wrong with it. Program-specific checks (node id, broker URL, ...) live
// beside their table.
import type { Checked } from "./settings.ts";

const problem = (text: string) => ({ problem: text });
const shown = (raw: string) => JSON.stringify(raw);

/** Any text, also empty. */
export function text(raw: string): Checked<string> {
  return { value: raw };
}

/** `check`, refusing an empty value. */
export function nonEmpty<T>(check: (raw: string) => Checked<T>): (raw: string) => Checked<T> {
  return (raw) => (raw === "" ? problem("must not be empty") : check(raw));
}

/** A file or directory name: not empty, no NUL or line breaks. */
export function path(raw: string): Checked<string> {
  if (raw === "") return problem("must not be empty");
  if (/[\0\n\r]/.test(raw)) return problem(`${shown(raw)} is not a path`);
  return { value: raw };
}

/** A TCP port; 0 lets the system pick a free one. */
export function port(raw: string): Checked<number> {
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) return problem(`${shown(raw)} is not a port (0-65535)`);
  return { value: Number(raw) };
}

/** `check`, or null for an empty value: a setting that is off unless given. */
export function orOff<T>(check: (raw: string) => Checked<T>): (raw: string) => Checked<T | null> {
  return (raw) => (raw === "" ? { value: null } : check(raw));
}

/** A decimal number (digits, optionally a fraction), 0 or more. */
export function nonNegative(raw: string): Checked<number> {
  if (!/^\d+(\.\d+)?$/.test(raw)) return problem(`${shown(raw)} is not a number 0 or more`);
  return { value: Number(raw) };
}

/** A decimal number above 0. */
export function positive(raw: string): Checked<number> {
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) === 0) return problem(`${shown(raw)} is not a number above 0`);
  return { value: Number(raw) };
}

/** A whole number of at least `min`. */
export function wholeNumber(min: number): (raw: string) => Checked<number> {
  return (raw) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) return problem(`${shown(raw)} is not a whole number of at least ${min}`);
    return { value: n };
  };
}

/** 1/0, true/false, yes/no, on/off, any case; empty is no. */
export function yesNo(raw: string): Checked<boolean> {
  const word = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(word)) return { value: true };
  if (["0", "false", "no", "off", ""].includes(word)) return { value: false };
  return problem(`${shown(raw)} is not a yes/no value (1/0, true/false, yes/no, on/off)`);
}

/** An http(s) URL without credentials, query or fragment; empty means none. */
export function httpUrl(raw: string): Checked<string> {
  if (raw === "") return { value: raw };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return problem(`${shown(raw)} is not an http(s) URL`);
  }
  // Credentials would end up in logs.
  if (url.username !== "" || url.password !== "") return problem("must not carry a user name or password");
  if (!["http:", "https:"].includes(url.protocol) || url.hostname === "" || /\s/.test(raw)) return problem(`${shown(raw)} is not an http(s) URL`);
  if (url.search !== "" || url.hash !== "") return problem(`${shown(raw)}: a hub URL has no ?query or #fragment`);
  return { value: raw };
}

/** A secret token: never echoed back, not even a malformed one. */
export function token(raw: string): Checked<string> {
  if (/[\s\x00-\x1f\x7f]/.test(raw)) return problem("contains spaces or control characters (a paste error?); value not shown");
  return { value: raw };
}
