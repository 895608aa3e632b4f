// The HTTP benchmarks' ceiling: a bare Hono route on Bun.serve, the same
// stack as the hub's API without any work behind it. Prints its port.
import { Hono } from "hono";

const app = new Hono();
app.get("/bare/:id", (c) => c.json({ node_id: c.req.param("id"), health: "healthy" }));
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
console.log(`port ${server.port}`);
