// Receipts with hub replicas (issue 16): two hubs in this process on one
// real Mosquitto (dynamic security, shared subscriptions, persistence) and
// one PostgreSQL registry. A node's events spread over both replicas; each
// event is receipted once, by the replica that committed it (its receipts
// count equals the events it applied), and the registry holds every one. On
// Mosquitto too, the retained hub/features reaches a node subscribing late
// and no node may read another's receipts. And the loss receipts are for:
// across a Mosquitto restart, what a node publishes before the replicas
// subscribe again is acknowledged by the broker and reaches no replica; it
// gets no receipt, so the node (this test, as an agent does) sends it again,
// and the registry ends with every event once.
import { beforeAll, describe, expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import type { MqttClient } from "mqtt";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";
import { eventually, newNode, registerBody, startTestHub, type NodeCredentials, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { verdictEvent } from "./support/node-payloads.ts";
import { postgresForThisFile, postgresUnavailable } from "./support/postgres.ts";
import { parsePrometheusText, sampleValue } from "./support/prometheus-text.ts";
import { mayReadReceiptsOf, publishEvent, receiptsOf, retainedHubFeatures } from "./support/receipts.ts";
import { sharedTestTls } from "./support/test-tls.ts";
import { dynsecCommand } from "../hub/broker/mosquitto-dynsec-test-kit.ts";

const VERDICTS = 60;
const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`receipts with replicas (${unavailable})`, () => test("replicas", () => {}));
} else {
  const hubs: TestHub[] = [];
  const clients: MqttClient[] = [];
  let mosquitto: RunningMosquitto;
  let url: string;
  const postgres = postgresForThisFile(async () => {
    for (const client of clients) await client.endAsync(true);
    for (const hub of hubs) await hub.stop();
    await mosquitto?.stop();
    removeTempDirs();
  });

  beforeAll(async () => {
    const persistence = tempDir("edgefed-mosquitto-persist-");
    chmodSync(persistence, 0o777); // Mosquitto drops root for its own user, which writes its database here
    mosquitto = await startMosquitto({ dynsec: true, extraConfig: ["persistence true", `persistence_location ${persistence}/`] });
    url = await postgres.server().freshRegistryUrl();
  });

  async function replica(hubId: string): Promise<TestHub> {
    const hub = await startTestHub({ mosquitto, env: { EDGEFED_DATABASE_URL: url, EDGEFED_HUB_ID: hubId, EDGEFED_SHARED_SUBSCRIPTIONS: "1" } });
    hubs.push(hub);
    return hub;
  }

  async function register(hub: TestHub, nodeId: string): Promise<NodeCredentials> {
    const token = await createEnrollmentToken(await postgres.openStore(url), { uses: 1, ttlMs: 3_600_000, label: "receipts" }, Date.now());
    const answer = await hub.api("POST", "/federation/register", registerBody(newNode(nodeId)), token);
    expect(answer.status).toBe(201);
    return answer.body.mqtt;
  }

  async function connect(hub: TestHub, credentials: NodeCredentials): Promise<MqttClient> {
    const client = await hub.connectNode(credentials);
    clients.push(client);
    return client;
  }

  const metric = async (hub: TestHub, name: string): Promise<number> => {
    const scrape = await (await hub.fetch("/metrics", { headers: { authorization: `Bearer ${hub.adminToken}` } })).text();
    return sampleValue(parsePrometheusText(scrape), name, {});
  };
  const applied = async (hub: TestHub): Promise<number> => (await hub.api("GET", "/api/federation/status")).body.ingest.applied;

  describe("receipts with replicas (Mosquitto, PostgreSQL)", () => {
    test("events spread over two replicas are each receipted once, by the replica that committed them", async () => {
      const a = await replica("a");
      const nodeId = "receipts-replica-pi";
      const credentials = await register(a, nodeId);
      const nosyCredentials = await register(a, "nosy-replica-pi");
      // Started after the registrations: a replica reads the fleet from the registry at its start.
      const b = await replica("b");
      const client = await connect(a, credentials);
      const receipts = await receiptsOf(client, nodeId);
      const before = await Promise.all([a, b].flatMap((hub) => [applied(hub), metric(hub, "edgefed_hub_receipts_sent_total")]));

      const ids = Array.from({ length: VERDICTS }, (_, i) => 5000 + i);
      for (let seq = 1; seq <= VERDICTS; seq++) await publishEvent(client, nodeId, "verdicts", verdictEvent(seq, "PASS", []), ids[seq - 1]!);
      await receipts.waitFor(ids);
      expect(receipts.ids().sort((x, y) => x - y)).toEqual(ids);

      const after = await Promise.all([a, b].flatMap((hub) => [applied(hub), metric(hub, "edgefed_hub_receipts_sent_total")]));
      const [appliedA, sentA, appliedB, sentB] = after.map((value, i) => value - before[i]!);
      expect(appliedA! + appliedB!).toBe(VERDICTS);
      expect(appliedA).toBeGreaterThan(0); // spread over both
      expect(appliedB).toBeGreaterThan(0);
      expect([sentA, sentB]).toEqual([appliedA, appliedB]);
      expect((await b.api("GET", `/federation/nodes/${nodeId}`)).body.verdicts).toMatchObject({ last_seq: VERDICTS, missing: 0, duplicates: 0 });

      const nosy = await connect(b, nosyCredentials);
      expect(await mayReadReceiptsOf(nosy, nodeId)).toBe(false);
      expect(await retainedHubFeatures(nosy)).toEqual({ receipts: true, ts: expect.any(Number) });
    });

    test("across a Mosquitto restart, what reached no replica gets no receipt; sent again, every event is in the registry once", async () => {
      for (const hub of hubs.splice(0)) await hub.stop();
      const a = await replica("a");
      const nodeId = "restart-replica-pi";
      const credentials = await register(a, nodeId);
      const b = await replica("b");
      const event = (seq: number) => verdictEvent(seq, "PASS", []);
      const ob = (seq: number) => 7000 + seq;
      const seqs = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);
      const before = await connect(a, credentials);
      const receiptsBefore = await receiptsOf(before, nodeId);
      for (const seq of seqs(1, 10)) await publishEvent(before, nodeId, "verdicts", event(seq), ob(seq));
      await receiptsBefore.waitFor(seqs(1, 10).map(ob));

      // The replicas' broker user is kept out until the node has published (a second admin disables it,
      // which dynamic security writes to its file, so it holds across the restart): the gap is certain.
      const hubUser = mosquitto.admin!;
      const secondAdmin = { username: "second-admin", password: "second-admin-password" };
      const broker = { url: mosquitto.url, ca: sharedTestTls().ca };
      await dynsecCommand(broker, hubUser, { command: "createClient", ...secondAdmin, roles: [{ rolename: "admin" }] });
      await dynsecCommand(broker, secondAdmin, { command: "disableClient", username: hubUser.username });
      await eventually(() => !a.hub.context.brokerConnected() && !b.hub.context.brokerConnected(), 10_000, "both replicas disconnected");
      await mosquitto.stop();
      await mosquitto.restart();
      // No replica is subscribed: the broker acknowledges what the node sends, and it reaches nobody.
      const after = await connect(a, credentials);
      const receipts = await receiptsOf(after, nodeId);
      for (const seq of seqs(11, 30)) await publishEvent(after, nodeId, "verdicts", event(seq), ob(seq));
      await dynsecCommand(broker, secondAdmin, { command: "enableClient", username: hubUser.username });
      await eventually(() => a.hub.context.brokerConnected() && b.hub.context.brokerConnected(), 20_000, "both replicas subscribed again");
      // An event published before is receipted now (a fence): anything of 11..30 would have come before it.
      await publishEvent(after, nodeId, "verdicts", event(10), ob(10));
      await receipts.waitFor([ob(10)]);
      expect(receipts.ids().filter((id) => id > ob(10))).toEqual([]);

      // As an agent does: what no receipt named goes again.
      for (const seq of seqs(11, 30)) await publishEvent(after, nodeId, "verdicts", event(seq), ob(seq));
      await receipts.waitFor(seqs(11, 30).map(ob), 20_000);
      expect((await a.api("GET", `/federation/nodes/${nodeId}`)).body.verdicts).toMatchObject({ last_seq: 30, missing: 0, by_verdict: { PASS: 30 } });
    }, 60_000);
  });
}
