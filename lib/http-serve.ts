// Starts an HTTP server for a fetch handler, the one way both the hub's API
// and the agent's local intent API (TCP or a Unix socket) are served. Under Bun it is Bun.serve; the
// hub also runs as a Node bundle, where serveHttp uses @hono/node-server.
// The agent (always Bun: `bun run` or the compiled binary) calls serveOnBun, so
// its binary never carries @hono/node-server: bundled, its top-level
// node:http2 import alone costs the agent about 3 MB of RSS at start.
import type { AddressInfo } from "node:net";

export interface RunningServer {
  port: number;
  stop(): Promise<void>;
}

type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Under Bun only. */
export function serveOnBun(fetch: FetchHandler, host: string, port: number): RunningServer {
  const server = Bun.serve({ fetch, hostname: host, port });
  return { port: server.port ?? port, stop: () => server.stop(true) };
}

/** Under Bun only: on a Unix socket at `path`, which must be free (Bun removes the file when it stops). */
export function serveOnUnixSocket(fetch: FetchHandler, path: string): { stop(): Promise<void> } {
  const server = Bun.serve({ fetch, unix: path });
  return { stop: () => server.stop(true) };
}

/** Under Bun or Node, whichever runs. */
export async function serveHttp(fetch: FetchHandler, host: string, port: number): Promise<RunningServer> {
  if (typeof globalThis.Bun !== "undefined") return serveOnBun(fetch, host, port);
  const { serve } = await import("@hono/node-server");
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname: host, port }, (info: AddressInfo) =>
      resolve({
        port: info.port,
        stop: () =>
          new Promise<void>((done) => {
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => done());
          }),
      }),
    );
    server.once("error", reject);
  });
}
