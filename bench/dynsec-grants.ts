// `bun run bench dynsec-grants [--fleet N] [--grants M]`: how fast the hub
// grants new nodes on a real Mosquitto (2.0.11, dynamic security) that already
// holds N granted nodes. Mosquitto rewrites its whole dynamic-security JSON on
// every modifying command, so a grant slows as the fleet grows; seeding the
// file directly (what grantedNodeRoles() says a granted node looks like)
// reaches a large fleet in seconds instead of the hour the grants would take.
// Then the same M nodes get new passwords (a re-registration). The limit is
// the same M grants on a broker with no node yet. With --stale K, K of the
// seeded roles lack a topic (as after the protocol gained one), so the hub
// brings them up to date when it connects; it prints how long a grant asked
// at that moment waited and how long the update took.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readCommandLine, runCommand } from "../lib/command-line.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { connectMosquittoDynsec, grantedNodeRoles } from "../hub/broker/mosquitto-dynsec.ts";
import { removeTempDirs } from "../test/helpers.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { printResult, printTable } from "./report.ts";

const usage = () =>
  [
    "usage: bun run bench dynsec-grants [--fleet N] [--grants M] [--stale K]",
    "  --fleet N    nodes the broker already holds (default 2000)",
    "  --grants M   new nodes granted and timed (default 200)",
    "  --stale K    seeded node roles that lack a topic, brought up to date at connect (default 0)",
  ].join("\n");

type DynsecFile = { clients: Record<string, unknown>[]; roles: Record<string, unknown>[] };

/** Adds `fleet` granted nodes to a stopped broker's dynamic-security file, the first `stale` without their cmd/ack topic. */
function seedFleet(file: string, fleet: number, stale: number): void {
  const config = JSON.parse(readFileSync(file, "utf8")) as DynsecFile;
  // Any valid hash will do: the seeded nodes never log in.
  const { password, salt, iterations } = config.clients[0] as { password: string; salt: string; iterations: number };
  for (let i = 0; i < fleet; i++) {
    const nodeId = `seed-${i}`;
    const { clientRoles, roles } = grantedNodeRoles(nodeId);
    config.clients.push({ username: nodeId, clientid: nodeId, roles: clientRoles.map((rolename) => ({ rolename })), password, salt, iterations });
    const missing = i < stale ? nodeTopic(nodeId, "cmd/ack") : null;
    config.roles.push(...roles.map((role) => ({ ...role, acls: role.acls.filter((acl) => acl.topic !== missing).map((acl) => ({ ...acl, priority: 0 })) })));
  }
  writeFileSync(file, JSON.stringify(config, null, "\t"));
}

/** Grants/s of `grants` new nodes, then of new passwords for them, all asked at once (the hub runs them one at a time). */
async function timeGrants(
  fleet: number,
  grants: number,
  stale = 0,
): Promise<{ perSecond: number; newPasswordsPerSecond: number; fileBytes: number; firstGrantS: number; rolesUpdatedS: number }> {
  const broker = await startMosquitto({ dynsec: true, tls: false });
  try {
    const file = join(broker.dir, "dynamic-security.json");
    if (fleet > 0) {
      await broker.stop();
      seedFleet(file, fleet, stale);
      await broker.restart();
    }
    const admin = broker.admin!;
    let rolesUpdated: () => void = () => {};
    const rolesUpdatedAt = new Promise<number>((resolve) => (rolesUpdated = () => resolve(performance.now())));
    const log = (line: string) => line.startsWith("brought the broker roles") && rolesUpdated();
    const access = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: "bench", timeoutMs: 600_000, log });
    try {
      // A registration arriving with the connect, while the hub checks (and with --stale updates) every node role.
      const connected = performance.now();
      await access.grant({ nodeId: "warm-up", username: "warm-up", password: "pw-warm-up" });
      const firstGrantS = (performance.now() - connected) / 1000;
      const rolesUpdatedS = stale > 0 ? ((await rolesUpdatedAt) - connected) / 1000 : 0;
      const perSecond = async (password: string) => {
        const started = performance.now();
        await Promise.all(Array.from({ length: grants }, (_, i) => access.grant({ nodeId: `new-${i}`, username: `new-${i}`, password: `${password}-${i}` })));
        return grants / ((performance.now() - started) / 1000);
      };
      const newNodes = await perSecond("pw-new");
      const newPasswords = await perSecond("pw-again");
      return { perSecond: newNodes, newPasswordsPerSecond: newPasswords, fileBytes: statSync(file).size, firstGrantS, rolesUpdatedS };
    } finally {
      await access.close();
    }
  } finally {
    await broker.stop();
  }
}

await runCommand("edgefed bench dynsec-grants", usage, async () => {
  const { values } = readCommandLine(process.argv.slice(3), { fleet: { type: "string" }, grants: { type: "string" }, stale: { type: "string" } });
  const stale = Number(values.stale ?? 0);
  const fleet = Number(values.fleet ?? 2000);
  const grants = Number(values.grants ?? 200);
  try {
    const empty = await timeGrants(0, grants);
    const full = await timeGrants(fleet, grants, stale);
    printTable(`dynsec-grants: ${grants} new nodes granted on Mosquitto's dynamic security`, [
      [`grants/s with ${fleet} nodes already granted`, full.perSecond],
      ["grants/s on an empty broker (limit)", empty.perSecond],
      [`new passwords/s (re-registrations) with ${fleet} nodes`, full.newPasswordsPerSecond],
      ["dynamic-security.json bytes per node", Math.round(full.fileBytes / (fleet + grants + 1))],
      ...(stale > 0
        ? ([
            [`s until a grant asked at connect is done, ${stale} roles to update`, full.firstGrantS],
            [`s until the ${stale} roles are up to date`, full.rolesUpdatedS],
          ] as [string, number][])
        : []),
    ]);
    printResult({ bench: "dynsec-grants", value: full.perSecond, unit: "grants/s", limit: empty.perSecond, extra: { fleet, grants, stale, new_passwords_per_s: full.newPasswordsPerSecond, file_bytes: full.fileBytes, first_grant_s: full.firstGrantS, roles_updated_s: full.rolesUpdatedS } });
  } finally {
    removeTempDirs();
  }
});
