// The HTTP benchmarks' ceiling: a bare Hono route on Bun.serve, the same
// stack as the hub's API with no work behind it. It answers with a fixed
// body of BODY_BYTES (the size of the hub's answer being compared), so the
// figure compares the hub's work, not the bytes on the wire. Prints its port.
// TLS_CERT_FILE and TLS_KEY_FILE: HTTPS with that certificate (the hub's).
import { readFileSync } from "node:fs";
import { Hono } from "hono";

const bodyBytes = Number(process.env.BODY_BYTES ?? 64);
const body = { node_id: "bare", padding: "x".repeat(Math.max(0, bodyBytes - 32)) };
const app = new Hono();
app.get("/bare/:id", (c) => c.json(body));
const { TLS_CERT_FILE, TLS_KEY_FILE } = process.env;
const tls = TLS_CERT_FILE && TLS_KEY_FILE ? { tls: { cert: readFileSync(TLS_CERT_FILE, "utf8"), key: readFileSync(TLS_KEY_FILE, "utf8") } } : {};
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch, ...tls });
console.log(`port ${server.port}`);
