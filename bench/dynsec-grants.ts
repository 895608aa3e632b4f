// `bun run bench dynsec-grants [--fleet N] [--grants M]`: how fast the hub
// grants new nodes on a real Mosquitto (2.0.11, dynamic security) that already
// holds N granted nodes. Mosquitto rewrites its whole dynamic-security JSON on
// every modifying command, so a grant slows as the fleet grows; seeding the
// file directly (what grantedNodeRoles() says a granted node looks like)
// reaches a large fleet in seconds instead of the hour the grants would take.
// Then the same M nodes get new passwords (a re-registration). The limit is
// the same M grants on a broker with no node yet.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readCommandLine, runCommand } from "../lib/command-line.ts";
import { connectMosquittoDynsec, grantedNodeRoles } from "../hub/broker/mosquitto-dynsec.ts";
import { removeTempDirs } from "../test/helpers.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { printResult, printTable } from "./report.ts";

const usage = () =>
  [
    "usage: bun run bench dynsec-grants [--fleet N] [--grants M]",
    "  --fleet N    nodes the broker already holds (default 2000)",
    "  --grants M   new nodes granted and timed (default 200)",
  ].join("\n");

type DynsecFile = { clients: Record<string, unknown>[]; roles: Record<string, unknown>[] };

/** Adds `fleet` granted nodes to a stopped broker's dynamic-security file; returns the file's size. */
function seedFleet(file: string, fleet: number): number {
  const config = JSON.parse(readFileSync(file, "utf8")) as DynsecFile;
  // Any valid hash will do: the seeded nodes never log in.
  const { password, salt, iterations } = config.clients[0] as { password: string; salt: string; iterations: number };
  for (let i = 0; i < fleet; i++) {
    const nodeId = `seed-${i}`;
    const { clientRoles, roles } = grantedNodeRoles(nodeId);
    config.clients.push({ username: nodeId, clientid: nodeId, roles: clientRoles.map((rolename) => ({ rolename })), password, salt, iterations });
    config.roles.push(...roles.map((role) => ({ ...role, acls: role.acls.map((acl) => ({ ...acl, priority: 0 })) })));
  }
  writeFileSync(file, JSON.stringify(config, null, "\t"));
  return statSync(file).size;
}

/** Grants/s of `grants` new nodes, then of new passwords for them, all asked at once (the hub runs them one at a time). */
async function timeGrants(fleet: number, grants: number): Promise<{ perSecond: number; newPasswordsPerSecond: number; fileBytes: number }> {
  const broker = await startMosquitto({ dynsec: true, tls: false });
  try {
    const file = join(broker.dir, "dynamic-security.json");
    if (fleet > 0) {
      await broker.stop();
      seedFleet(file, fleet);
      await broker.restart();
    }
    const admin = broker.admin!;
    const access = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: "bench", timeoutMs: 60_000 });
    try {
      // Untimed: waits behind the connect's check of every node role.
      await access.grant({ nodeId: "warm-up", username: "warm-up", password: "pw-warm-up" });
      const perSecond = async (password: string) => {
        const started = performance.now();
        await Promise.all(Array.from({ length: grants }, (_, i) => access.grant({ nodeId: `new-${i}`, username: `new-${i}`, password: `${password}-${i}` })));
        return grants / ((performance.now() - started) / 1000);
      };
      const newNodes = await perSecond("pw-new");
      const newPasswords = await perSecond("pw-again");
      return { perSecond: newNodes, newPasswordsPerSecond: newPasswords, fileBytes: statSync(file).size };
    } finally {
      await access.close();
    }
  } finally {
    await broker.stop();
  }
}

await runCommand("edgefed bench dynsec-grants", usage, async () => {
  const { values } = readCommandLine(process.argv.slice(3), { fleet: { type: "string" }, grants: { type: "string" } });
  const fleet = Number(values.fleet ?? 2000);
  const grants = Number(values.grants ?? 200);
  try {
    const empty = await timeGrants(0, grants);
    const full = await timeGrants(fleet, grants);
    printTable(`dynsec-grants: ${grants} new nodes granted on Mosquitto's dynamic security`, [
      [`grants/s with ${fleet} nodes already granted`, full.perSecond],
      ["grants/s on an empty broker (limit)", empty.perSecond],
      [`new passwords/s (re-registrations) with ${fleet} nodes`, full.newPasswordsPerSecond],
      ["dynamic-security.json bytes per node", Math.round(full.fileBytes / (fleet + grants + 1))],
    ]);
    printResult({ bench: "dynsec-grants", value: full.perSecond, unit: "grants/s", limit: empty.perSecond, extra: { fleet, grants, new_passwords_per_s: full.newPasswordsPerSecond, file_bytes: full.fileBytes } });
  } finally {
    removeTempDirs();
  }
});
