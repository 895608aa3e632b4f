// The local API's Unix socket: who may connect is decided by the file's mode
// (0660) and group, the usual way local daemons grant access. The group is
// the agent's own (primary) group: the unit runs it as Group=edgefed-strategy,
// so the socket is created with that group and only its mode is set after
// bind. No chown to a supplementary group instead: under the unit's
// PrivateUsers=yes, supplementary groups are mapped to nogroup (systemd#41994),
// so the chown would fail.
import { chmodSync, lstatSync, rmSync } from "node:fs";
import { connect } from "node:net";

export const SOCKET_MODE = 0o660;

/**
 * Makes `path` free to bind: removes a socket file that a stopped agent left
 * behind (nothing accepts connections on it), and refuses, leaving it, when
 * something listens there or the file is not a socket.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket; not removed (set EDGEFED_API_SOCKET to another path)`);
  if (await somethingListens(path)) throw new Error(`${path}: another process listens on this socket (another agent?)`);
  rmSync(path, { force: true });
}

function somethingListens(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNREFUSED" || error.code === "ENOENT") resolve(false);
      else reject(new Error(`${path}: cannot tell whether something listens on this socket: ${error.message}`));
    });
  });
}

/** After bind: the group may connect, others not (bind made it as the umask says, 0700 under the unit's UMask=0077). */
export function openSocketToGroup(path: string): void {
  chmodSync(path, SOCKET_MODE);
}
