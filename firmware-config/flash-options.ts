// What `bun run flash` is asked to write, checked whole before anything is
// touched: every problem is reported at once, each naming its option, and a
// secret is never echoed back, not even a malformed one.
import { X509Certificate } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { HelpRequested, readCommandLine, type OptionValues } from "../lib/command-line.ts";
import { isNodeId } from "../protocol/topics.ts";
import { DEFAULT_HUB_DATA_DIR } from "../hub/settings.ts";
import { CA_CERT_FILE, TLS_DIR } from "../hub/tls/hub-pki.ts";
import { FORMAT_NAMES, formatNamed, type FirstBootFormat } from "./formats/index.ts";

export const REPO_ROOT = join(import.meta.dir, "..");

export interface Wifi {
  ssid: string;
  /** The WPA passphrase as typed; flash writes only the PSK derived from it. */
  passphrase: string;
  /** ISO 3166 alpha-2, upper case: the regulatory domain. */
  country: string;
}

/** One card's worth of settings. */
export interface NodeProvision {
  nodeId: string;
  hostname: string;
  wifi: Wifi | null;
}

/** What every card of a run shares. */
export interface FlashCommon {
  hubUrl: string;
  /** The hub's CA certificate file, copied to the card for the agent to pin; null: none (an http hub, or one with a public certificate). */
  hubCa: string | null;
  enrollToken: string;
  agentBinary: string;
  kernelConfig: string;
  sshKey: string | null;
  sshUser: string;
  capabilities: string;
  /** --format; null: detect it from the boot partition. */
  format: FirstBootFormat | null;
  dryRun: boolean;
  staging: boolean;
}

export type FlashRequest =
  | { kind: "single"; boot: string; node: NodeProvision; common: FlashCommon }
  | { kind: "fleet"; fleetCsv: string; template: string; outDir: string; common: FlashCommon };

/** Bad options; `problems` holds one line per problem. Nothing has been written. */
export class FlashOptionsError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "FlashOptionsError";
  }
}

export const FLASH_HELP = `bun run flash -- --boot <dir|image.img> --node-id ID --hub URL --enroll-token TOKEN [options]
bun run flash -- --fleet fleet.csv --boot-template image.img [--out-dir DIR] --hub URL --enroll-token TOKEN [options]

Writes what a Raspberry Pi needs to become an edgefed node on its first boot
onto its boot partition: a mounted card (directory) or a whole-disk image.

  --boot PATH            the card's mounted boot partition, or an image file
  --node-id ID           node id: lowercase letters, digits and -, at most 63
  --hub URL              the hub, http:// or https://
  --enroll-token TOKEN   enrollment token (or EDGEFED_ENROLL_TOKEN, which keeps it out of ps)
  --hub-ca FILE          the hub's CA certificate, the only one the agent will trust (default for an
                         https:// hub: ${join(DEFAULT_HUB_DATA_DIR, TLS_DIR, CA_CERT_FILE)}, the CA a hub run here made, if it exists)
  --hostname NAME        the Pi's host name (default: the node id)
  --agent FILE           agent binary (default: dist/edgefed-agent-linux-arm64)
  --kernel-config FILE   gate config for /etc/edgefed/core_gates.env (default: examples/core_gates.env)
  --capabilities LIST    advertised capabilities (default: kernel)
  --wifi-ssid S --wifi-psk P --wifi-country CC
                         a Wi-Fi network (PSK or EDGEFED_WIFI_PSK; only its derived key is written)
  --ssh-key FILE         public key for an admin user who may log in over SSH
  --ssh-user NAME        that admin user (default: pi)
  --format ${FORMAT_NAMES.join("|")}
                         first-boot mechanism (default: what the boot partition holds)
  --dry-run              show what would be written, secrets masked, and write nothing
  --staging              --boot is a directory to fill and copy later, not necessarily FAT
  --fleet FILE           CSV with a header: node_id[,hostname][,wifi_ssid,wifi_psk,wifi_country]
  --boot-template IMAGE  the image each fleet row starts from
  --out-dir DIR          where fleet images go, one <node_id>.img each (default: .)
`;

const OPTIONS = {
  boot: { type: "string" },
  "node-id": { type: "string" },
  hub: { type: "string" },
  "hub-ca": { type: "string" },
  "enroll-token": { type: "string" },
  hostname: { type: "string" },
  agent: { type: "string" },
  "kernel-config": { type: "string" },
  capabilities: { type: "string" },
  "wifi-ssid": { type: "string" },
  "wifi-psk": { type: "string" },
  "wifi-country": { type: "string" },
  "ssh-key": { type: "string" },
  "ssh-user": { type: "string" },
  format: { type: "string" },
  "dry-run": { type: "boolean" },
  staging: { type: "boolean" },
  fleet: { type: "string" },
  "boot-template": { type: "string" },
  "out-dir": { type: "string" },
} as const;

/** A host name label (RFC 1123): letters, digits and -, not starting or ending with -. */
const HOSTNAME_PATTERN = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
const COUNTRY_PATTERN = /^[A-Z]{2}$/;
/** Values that go into agent.env as systemd reads it: no quoting needed, nothing to expand. */
const ENV_SAFE = /^[A-Za-z0-9._:/@%+=,~-]+$/;
/** ELF e_machine for AArch64. */
const EM_AARCH64 = 0xb7;
/** An OpenSSH public key line: type, base64 key, and an optional comment of any characters. */
const SSH_KEY_TYPES = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/s;
/**
 * C0 controls and DEL: they end or split a line where SSIDs and keys are
 * written line by line (authorized_keys, NetworkManager keyfiles), so flash
 * refuses them. Every other character, C1 controls included, is written
 * (escaped in YAML where YAML needs it).
 */
const C0_CONTROL = /[\x00-\x1f\x7f]/;
/** "U+0009": how a message names a character that does not print. */
const codePoint = (char: string) => `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

/** Throws UsageError (one line) for a command line parseArgs refuses; FlashOptionsError for every problem with the values. */
export function parseFlashArgs(argv: string[], env: Record<string, string | undefined>): FlashRequest | "help" {
  let values: OptionValues<typeof OPTIONS>;
  try {
    values = readCommandLine(argv, OPTIONS).values;
  } catch (error) {
    if (error instanceof HelpRequested) return "help";
    throw error;
  }
  const text = (name: keyof typeof OPTIONS) => (typeof values[name] === "string" ? (values[name] as string) : undefined);
  const problems: string[] = [];

  const common = checkCommon(
    {
      hubUrl: text("hub"),
      hubCa: text("hub-ca"),
      enrollToken: text("enroll-token") ?? env.EDGEFED_ENROLL_TOKEN,
      agentBinary: text("agent") ?? join(REPO_ROOT, "dist/edgefed-agent-linux-arm64"),
      kernelConfig: text("kernel-config") ?? join(REPO_ROOT, "examples/core_gates.env"),
      sshKey: text("ssh-key"),
      sshUser: text("ssh-user") ?? "pi",
      capabilities: text("capabilities") ?? "kernel",
      format: text("format"),
      dryRun: values["dry-run"] === true,
      staging: values.staging === true,
    },
    problems,
  );

  const fleetCsv = text("fleet");
  if (fleetCsv !== undefined) {
    for (const single of ["boot", "node-id", "hostname", "wifi-ssid", "wifi-psk", "wifi-country"] as const) {
      if (text(single) !== undefined) problems.push(`--${single} does not go with --fleet (each row of ${fleetCsv} says it)`);
    }
    const template = text("boot-template");
    if (template === undefined) problems.push("--fleet needs --boot-template IMAGE (the image each node's copy starts from)");
    else if (!existsSync(template) || statSync(template).isDirectory()) problems.push(`--boot-template ${template}: not an image file`);
    if (!existsSync(fleetCsv)) problems.push(`--fleet ${fleetCsv}: no such file`);
    if (problems.length) throw new FlashOptionsError(problems);
    return { kind: "fleet", fleetCsv, template: template!, outDir: text("out-dir") ?? ".", common };
  }

  for (const fleetOnly of ["boot-template", "out-dir"] as const) {
    if (text(fleetOnly) !== undefined) problems.push(`--${fleetOnly} goes with --fleet`);
  }
  const boot = text("boot");
  if (boot === undefined) problems.push("--boot is missing: the card's boot partition (a directory) or an image file");
  const node = checkNode(
    { nodeId: text("node-id"), hostname: text("hostname"), ssid: text("wifi-ssid"), psk: text("wifi-psk") ?? env.EDGEFED_WIFI_PSK, country: text("wifi-country") },
    (name) => `--${name}`,
    problems,
  );
  if (problems.length) throw new FlashOptionsError(problems);
  return { kind: "single", boot: boot!, node, common };
}

interface CommonInput {
  hubUrl?: string;
  hubCa?: string;
  enrollToken?: string;
  agentBinary: string;
  kernelConfig: string;
  sshKey?: string;
  sshUser: string;
  capabilities: string;
  format?: string;
  dryRun: boolean;
  staging: boolean;
}

function checkCommon(input: CommonInput, problems: string[]): FlashCommon {
  if (input.hubUrl === undefined) problems.push("--hub is missing: the hub's URL, e.g. http://hub.lan:8080");
  else problems.push(...hubUrlProblems(input.hubUrl));
  if (input.enrollToken === undefined || input.enrollToken === "") {
    problems.push("--enroll-token is missing (or set EDGEFED_ENROLL_TOKEN): make one with `bun run hub -- token create`");
  } else if (!ENV_SAFE.test(input.enrollToken)) {
    problems.push("--enroll-token contains spaces, quotes or other characters a token does not have (a paste error?); value not shown");
  }
  const hubCa = chooseHubCa(input.hubUrl, input.hubCa, problems);
  problems.push(...agentBinaryProblems(input.agentBinary));
  if (!existsSync(input.kernelConfig)) problems.push(`--kernel-config ${input.kernelConfig}: no such file`);
  let sshKey: string | null = null;
  if (input.sshKey !== undefined) {
    const checked = readSshKey(input.sshKey);
    if ("problem" in checked) problems.push(checked.problem);
    else sshKey = checked.key;
  }
  if (!USER_PATTERN.test(input.sshUser) || input.sshUser === "edgefed" || input.sshUser === "root") {
    problems.push(`--ssh-user ${JSON.stringify(input.sshUser)} is not a user name an admin can have (lowercase, at most 32, not root or edgefed)`);
  }
  if (!/^[a-z0-9][a-z0-9:._,-]*$/.test(input.capabilities)) problems.push(`--capabilities ${JSON.stringify(input.capabilities)} is not a comma-separated capability list`);
  let format: FirstBootFormat | null = null;
  if (input.format !== undefined) {
    format = formatNamed(input.format) ?? null;
    if (!format) problems.push(`--format ${JSON.stringify(input.format)}: one of ${FORMAT_NAMES.join(", ")}`);
  }
  return {
    hubUrl: input.hubUrl ?? "",
    hubCa,
    enrollToken: input.enrollToken ?? "",
    agentBinary: input.agentBinary,
    kernelConfig: input.kernelConfig,
    sshKey,
    sshUser: input.sshUser,
    capabilities: input.capabilities,
    format,
    dryRun: input.dryRun,
    staging: input.staging,
  };
}

function hubUrlProblems(raw: string): string[] {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return [`--hub ${JSON.stringify(raw)} is not a URL: give http://host:port or https://host`];
  }
  if (!["http:", "https:"].includes(url.protocol)) return [`--hub ${JSON.stringify(raw)}: the hub is reached over http:// or https://, not ${url.protocol}`];
  if (url.username || url.password) return ["--hub must not carry a user name or password (the enrollment token is separate)"];
  if (url.search || url.hash || !ENV_SAFE.test(raw)) return [`--hub ${JSON.stringify(raw)}: a hub URL has no spaces, ?query or #fragment`];
  return [];
}

/**
 * The CA the card carries: --hub-ca, else for an https:// hub the CA a hub
 * run from this directory made (flash usually runs beside the hub), if any.
 * Only a certificate: a private key pasted by mistake is refused.
 */
function chooseHubCa(hubUrl: string | undefined, given: string | undefined, problems: string[]): string | null {
  const https = hubUrl?.startsWith("https://") ?? false;
  const defaultCa = join(DEFAULT_HUB_DATA_DIR, TLS_DIR, CA_CERT_FILE);
  const file = given ?? (https && existsSync(defaultCa) ? defaultCa : null);
  if (file === null) return null;
  const label = given !== undefined ? `--hub-ca ${file}` : `the hub's CA ${file}`;
  if (!https) {
    problems.push(`${label}: the agent pins a CA only for an https:// hub (--hub ${hubUrl ?? "is missing"})`);
    return null;
  }
  if (!existsSync(file)) {
    problems.push(`${label}: no such file`);
    return null;
  }
  const content = readFileSync(file, "utf8");
  if (content.includes("PRIVATE KEY")) {
    problems.push(`${label} holds a private key: give the CA certificate (ca.pem), never its key`);
    return null;
  }
  try {
    if (!new X509Certificate(content).ca) problems.push(`${label} is not a CA certificate`);
  } catch {
    problems.push(`${label} is not a PEM certificate`);
  }
  return file;
}

function agentBinaryProblems(path: string): string[] {
  if (!existsSync(path)) return [`--agent ${path}: no such file (build it with \`bun run build:agent\`)`];
  const head = Buffer.alloc(20);
  const fd = openSync(path, "r");
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const isElf = head.length >= 20 && head[0] === 0x7f && head.subarray(1, 4).toString() === "ELF";
  if (!isElf) return [`--agent ${path} is not a Linux executable (ELF)`];
  const machine = head.readUInt16LE(18);
  if (machine !== EM_AARCH64) return [`--agent ${path} is built for ELF machine 0x${machine.toString(16)}, not arm64: a Pi needs dist/edgefed-agent-linux-arm64`];
  return [];
}

function readSshKey(path: string): { key: string } | { problem: string } {
  if (!existsSync(path)) return { problem: `--ssh-key ${path}: no such file` };
  const content = readFileSync(path, "utf8");
  if (content.includes("PRIVATE KEY")) return { problem: `--ssh-key ${path} is a private key: give the public one (${path}.pub)` };
  const lines = content.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const control = lines.length === 1 ? C0_CONTROL.exec(lines[0]!) : null;
  if (control) return { problem: `--ssh-key ${path}: the key line holds the control character ${codePoint(control[0])}: not an OpenSSH public key line` };
  if (lines.length !== 1 || !SSH_KEY_TYPES.test(lines[0]!)) return { problem: `--ssh-key ${path}: expected one OpenSSH public key line (ssh-ed25519 AAAA... comment)` };
  return { key: lines[0]! };
}

export interface NodeInput {
  nodeId?: string;
  hostname?: string;
  ssid?: string;
  psk?: string;
  country?: string;
}

/** Checks one node's settings; `label` names a field in messages (an option, or a CSV row and column). */
export function checkNode(input: NodeInput, label: (field: "node-id" | "hostname" | "wifi-ssid" | "wifi-psk" | "wifi-country") => string, problems: string[]): NodeProvision {
  const nodeId = input.nodeId ?? "";
  if (input.nodeId === undefined || input.nodeId === "") problems.push(`${label("node-id")} is missing: the node's id, e.g. pi-01`);
  else if (!isNodeId(nodeId)) problems.push(`${label("node-id")} ${JSON.stringify(nodeId)} is not a node id: lowercase letters, digits and -, starting with a letter or digit, at most 63 characters`);
  const hostname = input.hostname || nodeId;
  if (input.hostname && !HOSTNAME_PATTERN.test(input.hostname)) problems.push(`${label("hostname")} ${JSON.stringify(input.hostname)} is not a host name: letters, digits and -, at most 63`);

  let wifi: Wifi | null = null;
  const given = [input.ssid, input.psk, input.country].filter((v) => v !== undefined && v !== "").length;
  if (given > 0) {
    const ssid = input.ssid ?? "";
    const passphrase = input.psk ?? "";
    const country = input.country ?? "";
    if (given < 3) problems.push(`Wi-Fi needs all three of ${label("wifi-ssid")}, ${label("wifi-psk")} and ${label("wifi-country")}`);
    if (ssid && (Buffer.byteLength(ssid) > 32 || C0_CONTROL.test(ssid))) problems.push(`${label("wifi-ssid")} must be 1 to 32 bytes (UTF-8) without the control characters U+0000-U+001F and U+007F`);
    // WPA2-PSK: a passphrase of 8 to 63 printable ASCII characters (IEEE 802.11i), or the 64-hex-digit key itself.
    if (passphrase && !/^[\x20-\x7e]{8,63}$/.test(passphrase) && !/^[0-9a-fA-F]{64}$/.test(passphrase)) {
      problems.push(`${label("wifi-psk")} must be 8 to 63 printable ASCII characters or 64 hex digits; value not shown`);
    }
    if (country && !COUNTRY_PATTERN.test(country)) problems.push(`${label("wifi-country")} ${JSON.stringify(country)} is not a two-letter country code such as GB or DE`);
    wifi = { ssid, passphrase, country };
  }
  return { nodeId, hostname, wifi };
}
