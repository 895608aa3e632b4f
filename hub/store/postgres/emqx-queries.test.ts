// The EMQX queries operators copy (examples/emqx/) run verbatim against a real
// PostgreSQL registry written by the hub's PostgreSQL store: a registered node
// gets its password hash, a removed one nothing, and the ACL rows allow a
// node exactly what hub/broker/acl.ts allows it (the embedded broker's and
// Mosquitto's rules), evaluated as EMQX evaluates rows with no_match = deny.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { nodeMayPublish, nodeMaySubscribe, nodePublishTopics, nodeSubscribeTopics } from "../../broker/acl.ts";
import { hashSecret } from "../../identity/secrets.ts";
import { registeredNode } from "../../../test/fixtures/node-record.ts";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "../../../test/support/postgres.ts";
import { fleetTopic, FLEET_KINDS, ROOT } from "../../../protocol/topics.ts";
import type { HubStore } from "../hub-store.ts";
import { openPostgresStore } from "./postgres-store.ts";

const NOW = 1_700_000_000_000;
const EXAMPLES = join(import.meta.dir, "../../../examples/emqx");
const example = (file: string) => readFileSync(join(EXAMPLES, file), "utf8").trim();
const AUTHENTICATION_QUERY = example("authentication.sql");
const AUTHORIZATION_QUERY = example("authorization.sql");

interface AclRow {
  permission: string;
  action: string;
  topic: string;
  retain: number | null;
}

/**
 * EMQX's verdict on a request from rows its PostgreSQL authorizer returned:
 * the first row whose action, topic and retain condition match decides; none
 * matching is `no_match = deny` (examples/emqx/emqx.conf). As EMQX 5's
 * emqx_authz_rule_raw / emqx_authz_rule read a row: retain NULL means either
 * flag, 0 only a publish without it; subscribe rows ignore retain. Topics
 * compare exactly: the test checks the rows hold no wildcard (EMQX matches a
 * wildcard in the request only against the same wildcard in a row).
 */
function emqxAllows(rows: readonly AclRow[], action: "publish" | "subscribe", topic: string, retain = false): boolean {
  const match = rows.find(
    (row) =>
      (row.action === action || row.action === "all") &&
      row.topic === topic &&
      (action === "subscribe" || row.retain === null || row.retain === (retain ? 1 : 0)),
  );
  return match?.permission === "allow";
}

const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`EMQX queries (${unavailable})`, () => test("queries", () => {}));
} else {
  let server: RunningPostgres;
  let store: HubStore;
  let sql: postgres.Sql;
  let sqlUrl: string;
  beforeAll(async () => {
    server = await startPostgres();
    sqlUrl = await server.freshRegistryUrl();
    store = await openPostgresStore(sqlUrl);
    sql = postgres(sqlUrl, { onnotice: () => {} });
  }, POSTGRES_START_BOUND_MS);
  afterAll(async () => {
    await sql?.end();
    await store?.close();
    await server?.stop();
  });

  /** Runs an example query as EMQX does: `${username}` becomes a prepared statement's parameter. */
  function runAsEmqx<T extends object>(query: string, username: string): Promise<T[]> {
    expect(query).toContain("${username}");
    return sql.unsafe<T[]>(query.replaceAll("${username}", "$1"), [username]);
  }

  async function register(nodeId: string, password: string): Promise<void> {
    await store.write((tx) => tx.nodes.save(registeredNode(nodeId, NOW, { passwordHash: hashSecret(password) })));
  }

  describe("EMQX queries (examples/emqx/) on the PostgreSQL registry", () => {
    test("emqx.conf carries exactly the queries of the .sql files", () => {
      const conf = readFileSync(join(EXAMPLES, "emqx.conf"), "utf8");
      const queries = [...conf.matchAll(/^\s*query = "(.*)"$/gm)].map((match) => match[1]);
      expect(queries).toEqual([AUTHENTICATION_QUERY, AUTHORIZATION_QUERY]);
    });

    test("authentication: a registered node gets its sha256 password hash, unsalted, not a superuser; unknown and removed nodes get nothing", async () => {
      await register("pi-auth", "pw-auth");
      await register("pi-gone", "pw-gone");
      await store.write((tx) => tx.nodes.delete("pi-gone"));

      const rows = await runAsEmqx<{ password_hash: string; salt: string; is_superuser: boolean }>(AUTHENTICATION_QUERY, "pi-auth");
      expect(rows).toEqual([{ password_hash: hashSecret("pw-auth"), salt: "", is_superuser: false }]);
      // What EMQX's sha256 with salt_position = disable computes from the password the node presents.
      expect(rows[0]!.password_hash).toBe(new Bun.CryptoHasher("sha256").update("pw-auth").digest("hex"));
      expect(await runAsEmqx(AUTHENTICATION_QUERY, "pi-gone")).toEqual([]);
      expect(await runAsEmqx(AUTHENTICATION_QUERY, "pi-never")).toEqual([]);
      expect(await runAsEmqx(AUTHORIZATION_QUERY, "pi-gone")).toEqual([]);
    });

    test("authorization: the rows allow a node exactly what hub/broker/acl.ts allows, by direction and retain flag", async () => {
      await register("pi-a", "pw-a");
      await register("pi-b", "pw-b");
      const rows = await runAsEmqx<AclRow>(AUTHORIZATION_QUERY, "pi-a");
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.filter((row) => /[+#]/.test(row.topic))).toEqual([]);

      const mine = [...nodePublishTopics("pi-a"), ...nodeSubscribeTopics("pi-a")];
      const others = [...nodePublishTopics("pi-b"), ...nodeSubscribeTopics("pi-b")];
      const strangers = [`${ROOT}/nodes/+/heartbeat`, `${ROOT}/nodes/pi-a/#`, `${ROOT}/#`, "#", `${ROOT}/nodes/pi-a/unknown`, "other/topic", ...FLEET_KINDS.map(fleetTopic)];
      for (const topic of [...mine, ...others, ...strangers]) {
        expect({ topic, subscribe: emqxAllows(rows, "subscribe", topic) }).toEqual({ topic, subscribe: nodeMaySubscribe("pi-a", topic) });
        for (const retain of [false, true]) {
          expect({ topic, retain, publish: emqxAllows(rows, "publish", topic, retain) }).toEqual({ topic, retain, publish: nodeMayPublish("pi-a", topic, retain) });
        }
      }
      // Every topic acl.ts allows is allowed at least once (the loop above would pass on rows allowing nothing only if acl.ts did too).
      expect(mine.every((topic) => emqxAllows(rows, "publish", topic) || emqxAllows(rows, "subscribe", topic))).toBe(true);
    });

    test("every start rewrites the topic patterns from protocol/topics.ts: a kind the hub no longer has loses its rows", async () => {
      await register("pi-stale", "pw-stale");
      await sql`INSERT INTO mqtt_topic_patterns (kind, action, pattern, retain) VALUES ('retired', 'publish', ${`${ROOT}/nodes/{node}/retired`}, 0)`;
      expect((await runAsEmqx<AclRow>(AUTHORIZATION_QUERY, "pi-stale")).map((row) => row.topic)).toContain(`${ROOT}/nodes/pi-stale/retired`);
      await store.close();
      store = await openPostgresStore(sqlUrl);
      expect((await runAsEmqx<AclRow>(AUTHORIZATION_QUERY, "pi-stale")).map((row) => row.topic)).not.toContain(`${ROOT}/nodes/pi-stale/retired`);
    });
  });
}
