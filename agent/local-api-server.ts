// The local intent API (local-api.ts) served while the agent runs, for the
// strategy processes on the same Pi: on a Unix socket (the default,
// /run/edgefed/agent.sock, mode 0660, the agent's group: local-api-socket.ts),
// and on 127.0.0.1 only when a port is configured, where every request needs
// the bearer token from the token file and a Host naming the listener
// (local-api-tcp-guard.ts). Neither (the fleet simulator) serves nothing.
import { serveOnBun, serveOnUnixSocket, type RunningServer } from "../lib/http-serve.ts";
import type { AgentPart } from "./agent-part.ts";
import { createLocalApi, type LocalApiBackend } from "./local-api.ts";
import { clearStaleSocket, openSocketToGroup } from "./local-api-socket.ts";
import { tcpGuard } from "./local-api-tcp-guard.ts";
import { loadOrCreateApiToken } from "./local-api-token.ts";

export interface LocalApiListeners {
  /** The Unix socket's path; null: none. */
  socket: string | null;
  /** The port on 127.0.0.1 (0: any free one); null: no TCP listener. */
  port: number | null;
  /** The TCP listener's bearer token: read, or generated when missing. */
  tokenFile: string;
}

export class LocalApiServer implements AgentPart {
  private tcp: RunningServer | null = null;
  private unix: { stop(): Promise<void> } | null = null;

  constructor(
    private readonly backend: LocalApiBackend,
    private readonly listeners: LocalApiListeners,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    const { socket, port, tokenFile } = this.listeners;
    if (socket !== null) {
      await clearStaleSocket(socket);
      this.unix = serveOnUnixSocket(createLocalApi(this.backend, this.log).fetch, socket);
      openSocketToGroup(socket);
    }
    if (port !== null) {
      const guard = tcpGuard(loadOrCreateApiToken(tokenFile), () => this.tcp?.port ?? port);
      this.tcp = serveOnBun(createLocalApi(this.backend, this.log, guard).fetch, "127.0.0.1", port);
    }
  }

  async stop(): Promise<void> {
    const [tcp, unix] = [this.tcp, this.unix];
    this.tcp = this.unix = null;
    await tcp?.stop();
    await unix?.stop();
  }

  /** The port it listens on, null when not on TCP. */
  get boundPort(): number | null {
    return this.tcp?.port ?? null;
  }

  get tokenFile(): string {
    return this.listeners.tokenFile;
  }

  /** The socket it listens on, null when not on one. */
  get socketPath(): string | null {
    return this.unix ? this.listeners.socket : null;
  }
}
