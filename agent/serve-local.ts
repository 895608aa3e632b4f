// Serves the local intent API on 127.0.0.1 only: strategy processes run on
// the same Pi, and nothing on the network may submit intents.
export interface LocalServer {
  port: number;
  stop(): Promise<void>;
}

export async function serveLocal(fetch: (request: Request) => Response | Promise<Response>, port: number): Promise<LocalServer> {
  const server = Bun.serve({ fetch, hostname: "127.0.0.1", port });
  return { port: server.port ?? port, stop: () => server.stop(true) };
}
