// Starts an HTTP server for a fetch handler: Bun.serve under Bun,
// @hono/node-server under Node (the hub's Node bundle). The hub's API and the
// agent's local intent API both start here; nothing else knows which runtime runs.
import type { AddressInfo } from "node:net";

export interface RunningServer {
  port: number;
  stop(): Promise<void>;
}

type FetchHandler = (request: Request) => Response | Promise<Response>;

export async function serveHttp(fetch: FetchHandler, host: string, port: number): Promise<RunningServer> {
  const bun = (globalThis as { Bun?: { serve(options: object): { port: number; stop(force?: boolean): Promise<void> } } }).Bun;
  if (bun) {
    const server = bun.serve({ fetch, hostname: host, port });
    return { port: server.port, stop: () => server.stop(true) };
  }
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
