// The `openssl` command line, the one tool that makes and signs certificates
// and requests here (the hub's PKI, the node's client certificate request):
// a well-kept, audited implementation of X.509 rather than ASN.1 written
// here. It runs as a subprocess (the same under Bun and Node); its stderr
// goes into the error, never a key (keys only ever go to files).
import { execFile, execFileSync } from "node:child_process";

export const OPENSSL = "openssl";

/** Runs openssl with `args`; throws with openssl's own message when it fails or is missing. */
export function openssl(args: string[], options: { cwd?: string; input?: string } = {}): string {
  try {
    return execFileSync(OPENSSL, args, { cwd: options.cwd, input: options.input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  } catch (error) {
    throw opensslError(args, error);
  }
}

/** As openssl(), without blocking the event loop (a server answering requests meanwhile). */
export function opensslAsync(args: string[], options: { input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(OPENSSL, args, { encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) reject(opensslError(args, Object.assign(error, { stderr })));
      else resolve(stdout);
    });
    child.stdin?.end(options.input ?? "");
  });
}

function opensslError(args: string[], error: unknown): Error {
  const failure = error as NodeJS.ErrnoException & { stderr?: string };
  if (failure.code === "ENOENT") return new Error("certificates are made with the openssl command, which is not installed (Debian: apt-get install openssl)");
  return new Error(`openssl ${args[0]} failed: ${(failure.stderr || failure.message).trim().split("\n").slice(0, 3).join("; ")}`);
}
