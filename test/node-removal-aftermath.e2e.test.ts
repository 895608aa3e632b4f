// What a removal leaves behind, end to end (embedded broker unless a test
// starts a real Mosquitto): proofs signed before a readmission are dead,
// decisions the node had not acknowledged are closed as node_removed and
// reach nobody later, its desired policy goes in the removal's transaction,
// and a broker that does not revoke leaves everything as it was (503).
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { StoreTransaction } from "../hub/store/hub-store.ts";
import { REGISTRY_FILE } from "../hub/store/sqlite/sqlite-store.ts";
import { openDatabase } from "../lib/sqlite.ts";
import { FLEET_POLICY_TOPIC, nodeTopic } from "../protocol/topics.ts";
import { removeTempDirs } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub } from "./support/hub-harness.ts";
import { birth, collect, usesLeft } from "./support/node-removal.ts";

afterAll(() => removeTempDirs());

test("a registration proof signed before the readmission is dead after it: one refused while removed, or captured, cannot be replayed", async () => {
  const t = await startTestHub();
  try {
    const node = newNode("replayed");
    const token = t.enrollmentToken({ uses: 5 });
    expect((await t.api("POST", "/federation/register", registerBody(node, { ts: Date.now() - 10 }), token)).status).toBe(201);
    const captured = registerBody(node); // seen on the plain-HTTP stream, never sent to the hub
    expect((await t.api("DELETE", "/federation/nodes/replayed")).status).toBe(200);
    const refused = registerBody(node, { ts: Date.now() }); // what the agent sends while removed
    expect((await t.api("POST", "/federation/register", refused, token)).status).toBe(403);
    await Bun.sleep(5); // both proofs now strictly older than the readmission
    expect((await t.api("POST", "/federation/nodes/replayed/readmit")).status).toBe(200);

    for (const replay of [refused, captured]) {
      const r = await t.api("POST", "/federation/register", replay, token);
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: "invalid_proof", detail: expect.stringContaining("signed before the readmission") });
    }
    expect((await t.api("GET", "/federation/nodes/replayed")).status).toBe(404); // still readmitted, not back
    expect(await usesLeft(t, token)).toBe(4); // the refusals spent nothing

    const fresh = registerBody(node);
    const back = await t.api("POST", "/federation/register", fresh, token);
    expect(back.status).toBe(201);
    await (await connectNode(back.body.mqtt)).endAsync(true);
    expect((await t.api("POST", "/federation/register", fresh, token)).status).toBe(401); // and that one is spent too
  } finally {
    await t.stop();
  }
}, 30_000);

test("decisions a node had not acknowledged when removed are closed as node_removed and never reach whoever takes the id after readmission", async () => {
  const t = await startTestHub();
  try {
    const id = "stale-cmd";
    expect((await t.api("POST", "/federation/register", registerBody(newNode(id)), t.enrollmentToken())).status).toBe(201);
    // Sent while it is offline (nobody subscribed): left pending, to be sent again at its next birth.
    const stale = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: id, payload: { task_type: "echo", description: "backtest" } });
    expect(stale.status).toBe(201);
    expect((await t.api("GET", `/api/federation/decisions?node=${id}`)).body.decisions[0]).toMatchObject({ id: stale.body.id, pending: [id] });
    expect((await t.api("DELETE", `/federation/nodes/${id}`)).status).toBe(200);
    // Closed by the removal itself: no longer pending, and the audit trail says why.
    const closed = (await t.api("GET", `/api/federation/decisions?node=${id}`)).body.decisions[0];
    expect(closed).toMatchObject({ id: stale.body.id, pending: [], acks: [{ node_id: id, ok: false, error: "node_removed" }] });
    expect((await t.api("POST", `/federation/nodes/${id}/readmit`)).status).toBe(200);

    // Another device takes the id, comes online, announces itself.
    const replacement = await t.api("POST", "/federation/register", registerBody(newNode(id)), t.enrollmentToken());
    expect(replacement.status).toBe(201);
    const client = await connectNode(replacement.body.mqtt);
    let fenceId: string;
    try {
      const got = collect(client);
      await client.subscribeAsync(nodeTopic(id, "cmd"), { qos: 1 });
      await client.publishAsync(nodeTopic(id, "birth"), birth(id), { qos: 1, retain: true });
      await eventually(async () => (await t.api("GET", `/federation/nodes/${id}`)).body.state?.boot_id === "boot-1", 5000, "the birth taken in");
      // The fence: a decision issued after the birth arrives; a redelivery at the birth would have come before it.
      const fence = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: id, payload: { task_type: "echo", description: "fence" } });
      expect(fence.status).toBe(201);
      fenceId = fence.body.id;
      await eventually(() => got.some((m) => JSON.parse(m.payload).id === fenceId), 5000, "the fence decision");
      expect(got.map((m) => JSON.parse(m.payload).id)).toEqual([fenceId]);
    } finally {
      await client.endAsync(true);
    }

    const listed = (await t.api("GET", `/api/federation/decisions?node=${id}`)).body.decisions;
    expect(listed.map((d: any) => d.id)).toEqual([fenceId, stale.body.id]);
    const [fresh, old] = listed;
    expect(old.pending).toEqual([]); // closed: not delivered, the node was removed
    expect(old.acks).toEqual([{ node_id: id, ok: false, error: "node_removed", applied_at: expect.any(Number), received_at: expect.any(Number), result: null }]);
    expect(fresh.pending).toEqual([id]); // the new device's own decision waits for its ack

    // A removal by a hub from before this closing left its decisions open: the readmitted id's registration closes them.
    const older = "stale-old-hub";
    expect((await t.api("POST", "/federation/register", registerBody(newNode(older)), t.enrollmentToken())).status).toBe(201);
    const open = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: older, payload: { task_type: "echo", description: "backtest" } });
    expect((await t.api("DELETE", `/federation/nodes/${older}`)).status).toBe(200);
    const registryFile = openDatabase(join(t.dataDir, REGISTRY_FILE));
    registryFile.prepare("DELETE FROM decision_acks WHERE node_id = ?").run(older);
    registryFile.close();
    expect((await t.api("POST", `/federation/nodes/${older}/readmit`)).status).toBe(200);
    expect((await t.api("POST", "/federation/register", registerBody(newNode(older)), t.enrollmentToken())).status).toBe(201);
    expect((await t.api("GET", `/api/federation/decisions?node=${older}`)).body.decisions[0]).toMatchObject({
      id: open.body.id,
      pending: [],
      acks: [{ node_id: older, ok: false, error: "node_removed" }],
    });
  } finally {
    await t.stop();
  }
}, 30_000);

test("a removed node's desired policy goes in the removal's transaction: a fleet decision right after the removal, or one that listed its targets before it, does not bring it back", async () => {
  const t = await startTestHub();
  const ctx = t.hub.context;
  const fleetPolicy = (maxLeverage: number) => t.api("POST", "/api/federation/decisions", { type: "RISK_ADJUSTMENT", target: "fleet", payload: { max_leverage: maxLeverage } });
  const register = async (id: string) => {
    const r = await t.api("POST", "/federation/register", registerBody(newNode(id)), t.enrollmentToken());
    expect(r.status).toBe(201);
    return r.body;
  };
  /** Readmits the id, registers another device under it, and returns what arrives on its own policy topic (retained) before the fleet policy does. */
  async function successorPolicy(id: string): Promise<{ view: any; ownPolicy: string[] }> {
    expect((await t.api("POST", `/federation/nodes/${id}/readmit`)).status).toBe(200);
    const client = await connectNode((await register(id)).mqtt);
    try {
      const got = collect(client);
      await client.subscribeAsync(nodeTopic(id, "policy"), { qos: 1 });
      await client.subscribeAsync(FLEET_POLICY_TOPIC, { qos: 1 });
      await eventually(() => got.some((m) => m.topic === FLEET_POLICY_TOPIC), 5000, "the retained fleet policy");
      return { view: (await t.api("GET", `/federation/nodes/${id}`)).body, ownPolicy: got.filter((m) => m.topic === nodeTopic(id, "policy") && m.payload !== "").map((m) => m.payload) };
    } finally {
      await client.endAsync(true);
    }
  }
  try {
    await register("policy-bystander"); // so fleet decisions have a target
    for (const id of ["policy-after", "policy-before"]) {
      await register(id);
      expect((await t.api("POST", "/api/federation/mode", { mode: "SHADOW", target: id })).status).toBe(201); // a policy of its own
      expect((await ctx.store.decisions.policies()).has(id)).toBe(true);
    }

    // 1. A fleet decision issued the moment the removal lets go of the node's lock.
    const run = ctx.nodeLocks.run;
    let after: { status: number; body: any } | undefined;
    ctx.nodeLocks.run = (async (key: string, work: () => Promise<unknown>) => {
      const result = await run.call(ctx.nodeLocks, key, work);
      if (key === "policy-after" && !after) after = await fleetPolicy(2); // the removal: the only use of its lock meanwhile
      return result;
    }) as typeof run;
    try {
      expect((await t.api("DELETE", "/federation/nodes/policy-after")).status).toBe(200);
    } finally {
      ctx.nodeLocks.run = run;
    }
    expect(after?.status).toBe(201);
    expect([...after!.body.targets].sort()).toEqual(["policy-before", "policy-bystander"]);
    expect((await ctx.store.decisions.policies()).has("policy-after")).toBe(false);
    const one = await successorPolicy("policy-after");
    expect(one.ownPolicy).toEqual([]); // no retained policy of the removed node for the device that took its id
    expect(one.view.desired_policy_version).toBeNull();

    // 2. A fleet decision that listed its targets and policies while the node was
    // still there, and writes in the same transaction, just after the removal.
    const store = ctx.store;
    const originalWrite = store.write;
    const storeWrite = <T,>(work: (tx: StoreTransaction) => Promise<T>) => originalWrite.call(store, work) as Promise<T>;
    const revoke = ctx.broker.revoke;
    let holdNextWrite = false;
    let releaseHeld: (() => void) | undefined;
    let heldWrite!: () => void;
    const writeHeld = new Promise<void>((resolve) => (heldWrite = resolve));
    store.write = function <T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
      if (holdNextWrite) {
        holdNextWrite = false; // the decision's write: queued right behind the removal's
        return new Promise<T>((resolve, reject) => {
          releaseHeld = () => storeWrite(work).then(resolve, reject);
          heldWrite();
        });
      }
      const result = storeWrite(work);
      const release = releaseHeld;
      releaseHeld = undefined;
      release?.();
      return result;
    };
    let before: Promise<{ status: number; body: any }> | undefined;
    ctx.broker.revoke = async (nodeId: string) => {
      await revoke.call(ctx.broker, nodeId);
      if (nodeId !== "policy-before") return;
      holdNextWrite = true;
      before = fleetPolicy(3);
      await writeHeld;
    };
    try {
      expect((await t.api("DELETE", "/federation/nodes/policy-before")).status).toBe(200);
    } finally {
      store.write = originalWrite;
      ctx.broker.revoke = revoke;
    }
    const issued = await before!;
    expect(issued.status).toBe(201);
    expect([...issued.body.targets].sort()).toEqual(["policy-after", "policy-bystander"]); // not sent to, nor pending for, the removed node
    expect((await ctx.store.decisions.policies()).has("policy-before")).toBe(false);
    const listed = (await t.api("GET", "/api/federation/decisions?node=policy-before")).body.decisions;
    expect(listed.map((d: any) => d.id)).not.toContain(issued.body.id);
    // What it had (its own policy, the first fleet decision) was closed at the removal.
    expect(listed.map((d: any) => [d.type, d.acks.find((a: any) => a.node_id === "policy-before")?.error])).toEqual([
      ["RISK_ADJUSTMENT", "node_removed"],
      ["MODE_CHANGE", "node_removed"],
    ]);
    const two = await successorPolicy("policy-before");
    expect(two.ownPolicy).toEqual([]);
    expect(two.view.desired_policy_version).toBeNull();
    const since = (await t.api("GET", "/api/federation/decisions?node=policy-before")).body.decisions;
    expect(since.some((d: any) => d.pending.includes("policy-before"))).toBe(false); // nothing waits to be sent to the new device

    // 3. All or nothing: a removal whose write fails leaves the node registered (the operator may try again).
    const id = "policy-fails";
    await register(id);
    // Every write meanwhile gets a transaction whose policy deletion fails, as on a failing disk.
    store.write = <T,>(work: (tx: StoreTransaction) => Promise<T>) =>
      storeWrite((tx) => {
        const decisions = Object.assign(Object.create(tx.decisions), { deletePolicy: () => Promise.reject(new Error("disk I/O error")) });
        return work({ ...tx, decisions });
      });
    try {
      expect((await t.api("DELETE", `/federation/nodes/${id}`)).status).toBe(500);
    } finally {
      store.write = originalWrite;
    }
    expect((await t.api("GET", `/federation/nodes/${id}`)).status).toBe(200);
    expect(await ctx.store.tombstones.get(id)).toBeUndefined();
    expect((await t.api("DELETE", `/federation/nodes/${id}`)).status).toBe(200);
    expect((await t.api("GET", `/federation/nodes/${id}`)).status).toBe(410);
  } finally {
    await t.stop();
  }
}, 30_000);

test("a removal the broker does not take answers 503 and changes nothing; once the broker is back it goes through", async () => {
  const { startMosquitto } = await import("./support/mosquitto.ts");
  const mosquitto = await startMosquitto({ dynsec: true });
  const t = await startTestHub({ mosquitto });
  try {
    const id = "undo-remove";
    const registered = await t.api("POST", "/federation/register", registerBody(newNode(id)), t.enrollmentToken());
    expect(registered.status).toBe(201);
    const pending = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: id, payload: { task_type: "echo", description: "backtest" } });
    expect(pending.status).toBe(201);

    await mosquitto.kill();
    const failed = await t.api("DELETE", `/federation/nodes/${id}`);
    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({ error: "broker_unavailable", detail: expect.stringContaining("nothing was changed, try again") });
    expect((await t.api("GET", `/federation/nodes/${id}`)).status).toBe(200); // still registered
    expect((await t.api("GET", "/api/federation/status")).body.nodes).toMatchObject({ total: 1, removed: 0 });
    expect((await t.api("GET", `/api/federation/decisions?node=${id}`)).body.decisions[0]).toMatchObject({ id: pending.body.id, pending: [id], acks: [] });

    await mosquitto.restart();
    const removed = await eventually(async () => {
      const r = await t.api("DELETE", `/federation/nodes/${id}`);
      return r.status !== 503 && r;
    }, 20_000, "the broker back");
    expect(removed.status).toBe(200);
    expect((await t.api("GET", `/federation/nodes/${id}`)).status).toBe(410);
    await expect(connectNode(registered.body.mqtt)).rejects.toThrow();
  } finally {
    await t.stop();
    await mosquitto.stop();
  }
}, 60_000);
