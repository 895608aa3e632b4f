// The local intent API (local-api.ts) served on 127.0.0.1 while the agent
// runs; no port (the fleet simulator) serves nothing. Loopback only: strategy
// processes run on the same Pi, and nothing on the network may submit intents.
import { serveOnBun, type RunningServer } from "../lib/http-serve.ts";
import type { AgentPart } from "./agent-part.ts";
import { createLocalApi, type LocalApiBackend } from "./local-api.ts";

export class LocalApiServer implements AgentPart {
  private server: RunningServer | null = null;

  constructor(
    private readonly backend: LocalApiBackend,
    /** 0: any free port; null: none. */
    private readonly port: number | null,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    if (this.port !== null) this.server = serveOnBun(createLocalApi(this.backend, this.log).fetch, "127.0.0.1", this.port);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    await server?.stop();
  }

  /** The port it listens on, null when not serving. */
  get boundPort(): number | null {
    return this.server?.port ?? null;
  }
}
