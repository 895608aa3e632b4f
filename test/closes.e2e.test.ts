// The `closes` topic end to end, on both brokers: position closes posted to a
// real agent's local API, with their profit and exit, reach a real hub (the
// node's close count) and its federation events export, each once; closes
// posted while the hub is down wait in the agent's outbox and arrive, in
// order, when it is back.
import { afterAll, describe, expect, test } from "bun:test";
import { Agent } from "../agent/agent.ts";
import { FederationEvent } from "../protocol/federation-events.ts";
import { freePort, removeTempDirs } from "./helpers.ts";
import { postJson, testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";

describe.each(["embedded", "mosquitto"] as const)("closes, %s broker", (brokerKind) => {
  let mosquitto: RunningMosquitto | undefined;
  let hub: TestHub | undefined;
  let agent: Agent | undefined;
  afterAll(async () => {
    await agent?.stop().catch(() => {});
    await hub?.stop().catch(() => {});
    await mosquitto?.stop();
    removeTempDirs();
  });

  test("an agent's closes reach the hub and its events export with pnl and exit, once each, also after the hub was down", async () => {
    const nodeId = `closes-${brokerKind}`;
    if (brokerKind === "mosquitto") mosquitto = await startMosquitto({ dynsec: true });
    // Fixed ports, so the agent finds the hub again after its restart.
    const env = { EDGEFED_HTTP_PORT: String(await freePort()), EDGEFED_MQTT_PORT: String(await freePort()) };
    hub = await startTestHub({ mosquitto, env });
    const dataDir = hub.dataDir;
    agent = await Agent.start(testAgentConfig(hub, nodeId, { apiPort: 0 }));
    const postCloses = async (body: unknown) => {
      expect((await postJson(agent!, "/v1/closes", body)).status).toBe(200);
    };
    const closesAtHub = async () => {
      const response = await hub!.fetch(`/api/federation/events?node=${nodeId}`, { headers: { authorization: `Bearer ${hub!.adminToken}` } });
      return (await response.text())
        .split("\n")
        .filter(Boolean)
        .map((line) => FederationEvent.parse(JSON.parse(line)))
        .flatMap((event) => (event.type === "close" ? [event.close] : []));
    };
    const view = async () => (await hub!.api("GET", `/federation/nodes/${nodeId}`)).body;
    await eventually(async () => (await view()).state?.session >= 1 && agent!.online, 10_000, "agent online");

    const t0 = Date.now();
    await postCloses([
      { symbol: "BTCUSDT", ts: t0, pnl_usd: -25.5, exit: "stop_loss" },
      { symbol: "ETHUSDT", ts: t0 + 1, pnl_usd: 40, exit: "take_profit" },
    ]);
    await postCloses({ symbol: "SOLUSDT", ts: t0 + 2 }); // no outcome given
    await eventually(async () => (await closesAtHub()).length === 3, 10_000, "three closes in the export");
    expect(await closesAtHub()).toEqual([
      { symbol: "BTCUSDT", ts: t0, pnl_usd: -25.5, exit: "stop_loss" },
      { symbol: "ETHUSDT", ts: t0 + 1, pnl_usd: 40, exit: "take_profit" },
      { symbol: "SOLUSDT", ts: t0 + 2 },
    ]);
    expect((await view()).closes).toEqual({ last_seq: 3, count: 3, duplicates: 0, missing: 0 });

    // The hub goes away; the strategy goes on closing positions.
    await hub.stop();
    await eventually(() => !agent!.online, 10_000, "agent offline");
    await postCloses({ symbol: "BTCUSDT", ts: t0 + 3, pnl_usd: -80, exit: "liquidation" });
    await postCloses({ symbol: "XRPUSDT", ts: t0 + 4, pnl_usd: 5, exit: "manual" });
    expect(agent.outbox.stats().byKind).toMatchObject({ closes: 2 });

    hub = await startTestHub({ mosquitto, env, dataDir });
    await eventually(async () => (await closesAtHub()).length === 5, 20_000, "the closes made offline in the export");
    expect((await closesAtHub()).slice(3)).toEqual([
      { symbol: "BTCUSDT", ts: t0 + 3, pnl_usd: -80, exit: "liquidation" },
      { symbol: "XRPUSDT", ts: t0 + 4, pnl_usd: 5, exit: "manual" },
    ]);
    expect((await view()).closes).toMatchObject({ last_seq: 5, count: 5, missing: 0 });
    await eventually(() => agent!.outbox.depth() === 0, 5000, "outbox drained");
  }, 60_000);
});
