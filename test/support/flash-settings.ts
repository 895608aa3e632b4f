// One node's and one run's flash settings as the firmware-config tests use
// them, each overridable, so a test names only what it is about.
import { join } from "node:path";
import type { FlashCommon, NodeProvision, Wifi } from "../../firmware-config/flash-options.ts";
import { REPO_ROOT } from "../helpers.ts";

export const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9k6CIiVf1rOJqB7s7p2m1DTZQz0t5x3X1m1H0f2Q7d operator@laptop";
export const WIFI: Wifi = { ssid: "Home Net", passphrase: "correct horse battery", country: "DE" };
export const ENROLL_TOKEN = "enroll-7f3a9c1e2b";
export const KERNEL_CONFIG = join(REPO_ROOT, "examples/core_gates.env");

export function nodeProvision(overrides: Partial<NodeProvision> = {}): NodeProvision {
  return { nodeId: "pi-01", hostname: "kitchen-pi", wifi: WIFI, ...overrides };
}

/** `agentBinary`: a file the test made (flash hashes it into the install-id). */
export function flashCommon(agentBinary: string, overrides: Partial<FlashCommon> = {}): FlashCommon {
  return {
    hubUrl: "http://hub.lan:8080",
    hubCa: null,
    enrollToken: ENROLL_TOKEN,
    agentBinary,
    kernelConfig: KERNEL_CONFIG,
    sshKey: SSH_KEY,
    sshUser: "admin",
    capabilities: "kernel,sim",
    format: null,
    dryRun: false,
    staging: false,
    ...overrides,
  };
}
