// Who a command run on the data dir (`edgefed-hub token|operator ...`) acts
// as in the audit trail: no token is presented, whoever may write the
// registry file may run it, so the trail names the system user.
import { userInfo } from "node:os";

export function cliActor(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = `uid-${process.getuid?.() ?? "unknown"}`;
  }
  return `cli:${user}`;
}
