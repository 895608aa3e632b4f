// The bearer token of the local API's TCP listener (the Unix socket needs
// none: its file mode and group decide who connects). It lives in a file the
// strategy's group may read (0640, in the unit's RuntimeDirectory
// /run/edgefed, group edgefed-strategy): an operator's token there is used as
// it is, else the agent generates one at start. Never logged: errors name the
// file, never its content.
import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";

export const TOKEN_FILE_MODE = 0o640;
/** 32 random bytes, as base64url: 43 characters. */
const TOKEN_BYTES = 32;
/** A token an operator writes must be as hard to guess as a generated one is, about. */
const MIN_TOKEN_CHARS = 32;
/** RFC 6750's b64token: what fits in `Authorization: Bearer <token>`. */
const TOKEN_PATTERN = /^[A-Za-z0-9._~+/-]+=*$/;

export class ApiTokenError extends Error {}

/** The token in `file`, or a new one written there (0640) when the file is missing. */
export function loadOrCreateApiToken(file: string): string {
  const existing = readIfPresent(file);
  if (existing === null) return createTokenFile(file);
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o007) throw new ApiTokenError(`${file}: readable by others (mode ${mode.toString(8)}): chmod 0640 it, or delete it and the agent makes a new one`);
  const token = existing.trim();
  if (!TOKEN_PATTERN.test(token) || token.length < MIN_TOKEN_CHARS) {
    throw new ApiTokenError(`${file}: not a usable token (at least ${MIN_TOKEN_CHARS} characters of A-Z a-z 0-9 . _ ~ + / -); content not shown; delete it and the agent makes a new one`);
  }
  return token;
}

function readIfPresent(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ApiTokenError(`${file}: cannot read the API token file: ${(error as Error).message}`);
  }
}

/** Written to a temporary name and renamed, so a strategy reading the file never sees half a token. */
function createTokenFile(file: string): string {
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  const partial = `${file}.${process.pid}.new`;
  try {
    writeFileSync(partial, `${token}\n`, { mode: TOKEN_FILE_MODE, flag: "wx" });
    chmodSync(partial, TOKEN_FILE_MODE); // the umask (the unit's 0077) took the group's read away
    renameSync(partial, file);
  } catch (error) {
    rmSync(partial, { force: true });
    throw new ApiTokenError(`${file}: cannot write the API token file: ${(error as Error).message}`);
  }
  return token;
}
