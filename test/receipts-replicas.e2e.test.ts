// Receipts with hub replicas (issue 16): two hubs in this process on one
// real Mosquitto (dynamic security, shared subscriptions) and one PostgreSQL
// registry. A node's events spread over both replicas; each event is
// receipted once, by the replica that committed it (its receipts count
// equals the events it applied), and the registry holds every one. On
// Mosquitto too, the retained hub/features reaches a node subscribing late
// and no node may read another's receipts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { removeTempDirs } from "./helpers.ts";
import { newNode, registerBody, startTestHub, type NodeCredentials, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { verdictEvent } from "./support/node-payloads.ts";
import { postgresForThisFile, postgresUnavailable } from "./support/postgres.ts";
import { parsePrometheusText, sampleValue } from "./support/prometheus-text.ts";
import { mayReadReceiptsOf, publishEvent, receiptsOf, retainedHubFeatures } from "./support/receipts.ts";

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
    mosquitto = await startMosquitto({ dynsec: true });
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
  });
}
