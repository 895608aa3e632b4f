// The heartbeat benchmark's ceiling: a bare MQTT.js subscriber that only
// counts messages, with a persistent session like the hub's so the broker
// queues for it while it is away. Run as a child process:
//   bun bare-subscriber.ts <url> <user> <password> <filter>
// It prints "connected", then serves its count on http://127.0.0.1:<port>/ and prints the port.
// CA_FILE: for an mqtts:// broker, the CA it must chain to (as the hub pins it).
import { readFileSync } from "node:fs";
import mqtt from "mqtt";

const [url, username, password, filter] = process.argv.slice(2) as [string, string, string, string];
let count = 0;
const trust = process.env.CA_FILE ? { ca: readFileSync(process.env.CA_FILE, "utf8"), rejectUnauthorized: true } : {};
const client = mqtt.connect(url, { clientId: "bench-bare-subscriber", username, password, clean: false, reconnectPeriod: 0, ...trust });
client.on("message", () => count++);
client.once("connect", async () => {
  console.log("connected"); // a resumed session's backlog starts flowing now, before the SUBACK
  await client.subscribeAsync(filter, { qos: 1 });
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ count }) });
  console.log(`port ${server.port}`);
});
client.on("error", (error) => {
  console.error(`bare subscriber: ${error.message}`);
  process.exit(1);
});
