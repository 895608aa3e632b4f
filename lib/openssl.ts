// The `openssl` command line, the one tool that makes and signs certificates
// and requests here (the hub's PKI, the node's client certificate request):
// a well-kept, audited implementation of X.509 rather than ASN.1 written
// here. It runs as a subprocess (the same under Bun and Node); its stderr
// goes into the error, never a key (keys only ever go to files).
import { execFileSync } from "node:child_process";

export const OPENSSL = "openssl";

/** Runs openssl with `args`; throws with openssl's own message when it fails or is missing. */
export function openssl(args: string[], options: { cwd?: string; input?: string } = {}): string {
  try {
    return execFileSync(OPENSSL, args, { cwd: options.cwd, input: options.input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === "ENOENT") throw new Error("certificates are made with the openssl command, which is not installed (Debian: apt-get install openssl)");
    throw new Error(`openssl ${args[0]} failed: ${(failure.stderr ?? failure.message).trim().split("\n").slice(0, 3).join("; ")}`);
  }
}
