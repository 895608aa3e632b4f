// A hub on an external broker that authenticates and authorises nodes from
// the PostgreSQL registry itself (EDGEFED_BROKER_AUTH=registry: EMQX with the
// queries of examples/emqx/). EMQX cannot run here, so the broker is a
// Mosquitto without dynamic security (it lets any client in) and the test
// runs the EMQX queries on the registry the hub writes, as EMQX would on
// every connect and publish: the hub starts without a dynamic-security
// plugin to talk to, a node it registers has the credentials the queries
// find, its verdicts reach the registry, and a removed node has none left.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { hashSecret } from "../hub/identity/secrets.ts";
import { deliveryOf, nodeTopic } from "../protocol/topics.ts";
import { REPO_ROOT, removeTempDirs } from "./helpers.ts";
import { eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto } from "./support/mosquitto.ts";
import { verdictEvent } from "./support/node-payloads.ts";
import { postgresForThisFile, postgresUnavailable } from "./support/postgres.ts";

const example = (file: string) => readFileSync(join(REPO_ROOT, "examples/emqx", file), "utf8").trim();
const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`a broker that reads the registry (${unavailable})`, () => test("registry auth", () => {}));
} else {
  const sqlClients: postgres.Sql[] = [];
  const pg = postgresForThisFile(() => Promise.all(sqlClients.map((sql) => sql.end())));
  afterAll(() => removeTempDirs());

  /** An example query run as EMQX runs it: `${username}` a prepared statement's parameter. */
  const asEmqx = async (sql: postgres.Sql, file: string, username: string): Promise<object[]> => [...(await sql.unsafe(example(file).replaceAll("${username}", "$1"), [username]))];

  test("with EDGEFED_BROKER_AUTH=registry the hub grants nothing at the broker: the EMQX queries find a registered node's credentials and ACLs, its verdicts are counted, and a removed node has none", async () => {
    const url = await pg.server().freshRegistryUrl();
    const registry = await pg.openStore(url);
    const sql = postgres(url, { onnotice: () => {} });
    sqlClients.push(sql);
    // No dynamic security: a hub driving it would wait for answers that never come and not start.
    const mosquitto = await startMosquitto();
    let hub: TestHub | undefined;
    try {
      hub = await startTestHub({
        env: {
          EDGEFED_MQTT_URL: mosquitto.url,
          EDGEFED_MQTT_USERNAME: "edgefed-hub-user",
          EDGEFED_MQTT_PASSWORD: "hub-password",
          EDGEFED_DATABASE_URL: url,
          EDGEFED_BROKER_AUTH: "registry",
        },
      });
      const token = await createEnrollmentToken(registry, { uses: 1, ttlMs: 600_000, label: "registry auth" }, Date.now());
      const node = newNode("pi-emqx");
      const registered = await hub.api("POST", "/federation/register", registerBody(node), token);
      expect(registered.status).toBe(201);
      const { password } = registered.body.mqtt;

      // What EMQX checks at connect: sha256 of the password the node presents, against the row it reads.
      const [credentials] = await asEmqx(sql, "authentication.sql", "pi-emqx");
      expect(credentials).toEqual({ password_hash: hashSecret(password), salt: "", is_superuser: false });
      const acl = await asEmqx(sql, "authorization.sql", "pi-emqx");
      expect(acl).toContainEqual(expect.objectContaining({ permission: "allow", action: "publish", topic: nodeTopic("pi-emqx", "verdicts") }));

      const client = await hub.connectNode(registered.body.mqtt);
      try {
        await client.publishAsync(nodeTopic("pi-emqx", "verdicts"), verdictEvent(1, "PASS", []), deliveryOf("verdicts"));
        await eventually(async () => (await registry.nodes.get("pi-emqx"))?.live.verdicts.lastSeq === 1, 10_000, "the verdict counted in the registry");
      } finally {
        client.end(true);
      }

      expect((await hub.api("DELETE", "/federation/nodes/pi-emqx")).status).toBe(200);
      expect(await asEmqx(sql, "authentication.sql", "pi-emqx")).toEqual([]);
      expect(await asEmqx(sql, "authorization.sql", "pi-emqx")).toEqual([]);
    } finally {
      await hub?.stop();
      await mosquitto.stop();
    }
  }, 120_000);
}
