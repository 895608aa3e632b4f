// Starts an HTTP server for a fetch handler, the one way both the hub's API
// and the agent's local intent API (TCP or a Unix socket) are served. Under Bun it is Bun.serve; the
// hub also runs as a Node bundle, where serveHttp uses @hono/node-server.
// The agent (always Bun: `bun run` or the compiled binary) calls serveOnBun, so
// its binary never carries @hono/node-server: bundled, its top-level
// node:http2 import alone costs the agent about 3 MB of RSS at start.
// With a certificate the server speaks HTTPS only.
import type { AddressInfo } from "node:net";

export interface RunningServer {
  port: number;
  /** Serves a new certificate (HTTPS only): for connections made from now on. */
  setCertificate(certificate: ServerCertificate): Promise<void>;
  stop(): Promise<void>;
}

/** PEM certificate (with its chain) and key. */
export interface ServerCertificate {
  cert: string;
  key: string;
}

type FetchHandler = (request: Request) => Response | Promise<Response>;

const notHttps = () => Promise.reject(new Error("this server speaks plain HTTP: it has no certificate to replace"));

/** Under Bun only. */
export function serveOnBun(fetch: FetchHandler, host: string, port: number, tls?: ServerCertificate): RunningServer {
  let server = Bun.serve({ fetch, hostname: host, port, ...(tls ? { tls } : {}) });
  const listening = server.port ?? port;
  return {
    port: listening,
    // Bun's server.reload() keeps the old certificate, so the listener is opened again on the same port;
    // requests under way finish on the old one.
    setCertificate: tls
      ? async (certificate) => {
          const old = server;
          void old.stop(false);
          server = Bun.serve({ fetch, hostname: host, port: listening, tls: certificate });
        }
      : notHttps,
    stop: () => server.stop(true),
  };
}

/** Under Bun only: on a Unix socket at `path`, which must be free (Bun removes the file when it stops). */
export function serveOnUnixSocket(fetch: FetchHandler, path: string): { stop(): Promise<void> } {
  const server = Bun.serve({ fetch, unix: path });
  return { stop: () => server.stop(true) };
}

/** Under Bun or Node, whichever runs. */
export async function serveHttp(fetch: FetchHandler, host: string, port: number, tls?: ServerCertificate): Promise<RunningServer> {
  if (typeof globalThis.Bun !== "undefined") return serveOnBun(fetch, host, port, tls);
  const { serve } = await import("@hono/node-server");
  const { createServer: createHttpsServer } = await import("node:https");
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname: host, port, ...(tls ? { createServer: createHttpsServer, serverOptions: { ...tls } } : {}) }, (info: AddressInfo) =>
      resolve({
        port: info.port,
        setCertificate: tls
          ? async (certificate) => (server as unknown as import("node:tls").Server).setSecureContext({ ...certificate })
          : notHttps,
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
