// `edgefed-agent check-config` (systemd ExecStartPre): what start-up needs on
// disk beyond well-formed settings, checked before the agent starts.
import { X509Certificate } from "node:crypto";
import { accessSync, constants, readFileSync, statSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError, loadGateConfig } from "../kernel/config-file.ts";
import type { AgentSettings } from "../protocol/agent-env.ts";

export interface CheckOptions {
  /** Where gate variables may override core_gates.env, as at start-up (default: process.env). */
  env?: Record<string, string | undefined>;
}

/**
 * What start-up needs on disk, beyond well-formed settings: a readable, valid
 * kernel config and a data dir that exists and is writable, or can be created
 * (its nearest existing ancestor is a writable directory), and a writable
 * directory for the local API's socket. Returns the problems; [] means fine.
 */
export function checkAgentConfig(settings: AgentSettings, options: CheckOptions = {}): string[] {
  const problems: string[] = [];
  const kernelLabel = "EDGEFED_KERNEL_CONFIG (--kernel-config)";
  try {
    loadGateConfig({ file: settings.kernelConfig, env: options.env ?? process.env });
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...error.problems.map((p) => `${kernelLabel}: ${p}`));
    else problems.push(`${kernelLabel}: ${settings.kernelConfig}: ${(error as Error).message}`);
  }
  problems.push(...dataDirProblems(settings.dataDir));
  if (settings.apiSocket !== null) problems.push(...socketDirProblems(settings.apiSocket));
  if (settings.hubCa) problems.push(...hubCaProblems(settings.hubCa));
  return problems;
}

/** The pinned hub CA must be a readable PEM certificate: without it the agent could never reach its hub. */
function hubCaProblems(file: string): string[] {
  const label = `EDGEFED_HUB_CA (--hub-ca): ${file}`;
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (error) {
    return [`${label}: cannot read: ${(error as Error).message}`];
  }
  try {
    new X509Certificate(pem);
  } catch {
    return [`${label}: not a PEM certificate`];
  }
  return [];
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw error;
  }
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const uid = () => (typeof process.getuid === "function" ? ` (uid ${process.getuid()})` : "");

function dataDirProblems(dataDir: string): string[] {
  const label = `EDGEFED_DATA_DIR (--data-dir): ${dataDir}`;
  const who = uid();
  try {
    const stat = statOrNull(dataDir);
    if (stat) {
      if (!stat.isDirectory()) return [`${label}: exists but is not a directory`];
      if (!writable(dataDir)) return [`${label}: not writable by this user${who}`];
      return [];
    }
    let ancestor = dirname(resolve(dataDir));
    let ancestorStat = statOrNull(ancestor);
    while (!ancestorStat && dirname(ancestor) !== ancestor) {
      ancestor = dirname(ancestor);
      ancestorStat = statOrNull(ancestor);
    }
    if (!ancestorStat?.isDirectory()) return [`${label}: does not exist and cannot be created: ${ancestor} is not a directory`];
    if (!writable(ancestor)) return [`${label}: does not exist and cannot be created: ${ancestor} is not writable by this user${who}`];
    return [];
  } catch (error) {
    return [`${label}: cannot be inspected: ${(error as Error).message}`];
  }
}

/** The socket's directory is not made by the agent: on the Pi the unit's RuntimeDirectory=edgefed makes it, with its group. */
function socketDirProblems(socket: string): string[] {
  const label = `EDGEFED_API_SOCKET (--api-socket): ${socket}`;
  const dir = dirname(resolve(socket));
  const stat = statOrNull(dir);
  if (!stat?.isDirectory()) return [`${label}: ${dir} is not a directory (the systemd unit makes /run/edgefed; elsewhere give a socket path in a writable directory, or an empty one for none)`];
  if (!writable(dir)) return [`${label}: ${dir} is not writable by this user${uid()}`];
  return [];
}
