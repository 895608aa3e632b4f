// The heartbeat benchmark's ceiling: a bare MQTT.js subscriber that only
// counts messages. Run as a child process: `bun bare-subscriber.ts <url> <user> <password> <filter>`;
// it serves its count on GET http://127.0.0.1:<port>/count and prints the port.
import mqtt from "mqtt";

const [url, username, password, filter] = process.argv.slice(2) as [string, string, string, string];
let count = 0;
const client = mqtt.connect(url, { clientId: `bench-bare-${process.pid}`, username, password, clean: true, reconnectPeriod: 0 });
client.on("message", () => count++);
client.on("connect", async () => {
  await client.subscribeAsync(filter, { qos: 0 });
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ count }) });
  console.log(`port ${server.port}`);
});
client.on("error", (error) => {
  console.error(`bare subscriber: ${error.message}`);
  process.exit(1);
});
