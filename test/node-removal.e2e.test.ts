// Removing a node sticks: the hub over real HTTP and MQTT (embedded broker)
// with its registry file, restarted on the same data dir. A removed id is
// refused at registration (403 node_removed) without spending a token use,
// shows as 410 until an operator readmits it, and registers anew afterwards
// (with the key it had, without a token use, as a re-registration would).
import { afterAll, expect, test } from "bun:test";
import { removeTempDirs } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestNode } from "./support/hub-harness.ts";
import { usesLeft } from "./support/node-removal.ts";

afterAll(() => removeTempDirs());

test("a removed node stays removed across a hub restart, is refused without spending a token use, and registers again once readmitted", async () => {
  let t = await startTestHub();
  const dataDir = t.dataDir;
  try {
    const node = newNode("removed-1");
    const token = t.enrollmentToken({ uses: 2 });
    const first = await t.api("POST", "/federation/register", registerBody(node), token);
    expect(first.status).toBe(201);
    expect(await usesLeft(t, token)).toBe(1);

    expect((await t.api("DELETE", "/federation/nodes/removed-1")).status).toBe(200);
    await expect(connectNode(first.body.mqtt)).rejects.toThrow();

    const refused = await t.api("POST", "/federation/register", registerBody(node), token);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ error: "node_removed", detail: expect.stringContaining("POST /federation/nodes/removed-1/readmit") });
    expect(await usesLeft(t, token)).toBe(1); // the refusal spent nothing
    // Another key for the id, or a fresh proof, makes no difference.
    expect((await t.api("POST", "/federation/register", registerBody(newNode("removed-1")), token)).status).toBe(403);
    expect((await t.api("POST", "/federation/register", registerBody(node, {}, false), token)).status).toBe(403);
    expect(await usesLeft(t, token)).toBe(1);
    // A bad token still learns nothing about the id.
    expect((await t.api("POST", "/federation/register", registerBody(node), "efe_not-a-token")).status).toBe(401);

    const view = await t.api("GET", "/federation/nodes/removed-1");
    expect(view.status).toBe(410);
    expect(view.body.error).toBe("node_removed");
    expect((await t.api("GET", "/federation/nodes")).body.nodes.map((n: any) => n.node_id)).not.toContain("removed-1");
    expect((await t.api("GET", "/api/federation/status")).body.nodes).toMatchObject({ total: 0, removed: 1 });
    expect((await t.api("DELETE", "/federation/nodes/removed-1")).status).toBe(410); // removed already
    expect((await t.api("DELETE", "/federation/nodes/never-was")).status).toBe(404); // unknown stays 404
    expect((await t.api("GET", "/federation/nodes/never-was")).status).toBe(404);

    await t.stop();
    t = await startTestHub({ dataDir });

    // The tombstone is in the registry file, not only in memory.
    expect((await t.api("GET", "/federation/nodes/removed-1")).status).toBe(410);
    expect((await t.api("POST", "/federation/register", registerBody(node), token)).status).toBe(403);
    expect(await usesLeft(t, token)).toBe(1);

    const readmitted = await t.api("POST", "/federation/nodes/removed-1/readmit");
    expect(readmitted.status).toBe(200);
    expect(readmitted.body).toEqual({ status: "readmitted", node_id: "removed-1" });
    expect((await t.api("GET", "/federation/nodes/removed-1")).status).toBe(404); // neither removed nor registered
    const unsigned = await t.api("POST", "/federation/register", registerBody(node, {}, false), token);
    expect(unsigned.status).toBe(401); // coming back with its key is a re-registration: proof needed
    expect(unsigned.body.error).toBe("proof_required");
    const again = await t.api("POST", "/federation/register", registerBody(node), token);
    expect(again.status).toBe(201); // a new registration ...
    expect(again.body.registration_id).not.toBe(first.body.registration_id);
    expect(await usesLeft(t, token)).toBe(1); // ... that spends no use
    const client = await connectNode(again.body.mqtt);
    await client.endAsync(true);
    expect((await t.api("GET", "/federation/nodes/removed-1")).status).toBe(200);
    expect((await t.api("GET", "/api/federation/status")).body.nodes).toMatchObject({ total: 1, removed: 0 });

    const twice = await t.api("POST", "/federation/nodes/removed-1/readmit");
    expect(twice.status).toBe(404);
    expect(twice.body).toEqual({ error: "not_removed", detail: expect.stringContaining("it is registered") });
    expect((await t.api("POST", "/federation/nodes/never-was/readmit")).status).toBe(404);
  } finally {
    await t.stop();
  }
}, 30_000);

test("readmitted, a node comes back on its used-up one-use token; another key for the id is a new node; a second DELETE before it is back stands", async () => {
  const t = await startTestHub();
  try {
    const register = (node: ReturnType<typeof newNode>, token: string) => t.api("POST", "/federation/register", registerBody(node), token);
    // The usual card: a token of one use, spent on the first registration.
    const pi = newNode("one-use");
    const single = t.enrollmentToken({ uses: 1 });
    expect((await register(pi, single)).status).toBe(201);
    expect(await usesLeft(t, single)).toBeUndefined(); // used up
    expect((await t.api("DELETE", "/federation/nodes/one-use")).status).toBe(200);
    expect((await register(pi, single)).status).toBe(403); // removed, not "token used up"
    expect((await t.api("POST", "/federation/nodes/one-use/readmit")).status).toBe(200);
    expect((await register(pi, single)).status).toBe(201);

    // Another device taking a readmitted id enrols as a new node: it needs a use.
    const old = newNode("new-key");
    expect((await register(old, t.enrollmentToken({ uses: 1 }))).status).toBe(201);
    expect((await t.api("DELETE", "/federation/nodes/new-key")).status).toBe(200);
    expect((await t.api("POST", "/federation/nodes/new-key/readmit")).status).toBe(200);
    const replacement = newNode("new-key");
    const usedUp = await register(replacement, single);
    expect(usedUp.status).toBe(401);
    expect(usedUp.body.detail).toContain("used up");
    const fresh = t.enrollmentToken({ uses: 1 });
    expect((await register(replacement, fresh)).status).toBe(201);
    expect(await usesLeft(t, fresh)).toBeUndefined();
    expect((await register(old, single)).status).toBe(409); // the old key is nobody now

    // Readmitted, then removed again before it registered: the removal stands.
    const fickle = newNode("fickle");
    const token = t.enrollmentToken();
    expect((await register(fickle, token)).status).toBe(201);
    expect((await t.api("DELETE", "/federation/nodes/fickle")).status).toBe(200);
    expect((await t.api("POST", "/federation/nodes/fickle/readmit")).status).toBe(200);
    const again = await t.api("POST", "/federation/nodes/fickle/readmit");
    expect(again.status).toBe(404);
    expect(again.body.detail).toContain("readmitted already");
    expect((await t.api("DELETE", "/federation/nodes/fickle")).status).toBe(200);
    expect((await t.api("GET", "/federation/nodes/fickle")).status).toBe(410);
    expect((await register(fickle, token)).status).toBe(403);
  } finally {
    await t.stop();
  }
}, 30_000);

test("readmission needs the admin token", async () => {
  const t = await startTestHub();
  try {
    const node = newNode("removed-2");
    const token = t.enrollmentToken();
    expect((await t.api("POST", "/federation/register", registerBody(node), token)).status).toBe(201);
    expect((await t.api("DELETE", "/federation/nodes/removed-2")).status).toBe(200);
    for (const bearer of ["nope", token]) {
      const r = await t.api("POST", "/federation/nodes/removed-2/readmit", undefined, bearer);
      expect(r.status).toBe(401);
      expect(r.body.error).toBe("unauthorized");
    }
    expect((await t.api("GET", "/federation/nodes/removed-2")).status).toBe(410);
  } finally {
    await t.stop();
  }
});

type Step = "delete" | "register" | "readmit";

/**
 * Each order of a removal, a registration (with the key it had, a proof
 * signed as it is sent) and a readmission of a registered node, one after
 * another, and what each then answers: the register step's status, the
 * readmission's, the node view (410 removed, 404 readmitted and not back, 200
 * registered), and a registration with a fresh proof after all three.
 */
const ORDERINGS: { order: Step[]; register: number; readmit: number; view: number; after: number }[] = [
  { order: ["delete", "register", "readmit"], register: 403, readmit: 200, view: 404, after: 201 },
  { order: ["delete", "readmit", "register"], register: 201, readmit: 200, view: 200, after: 200 },
  { order: ["register", "delete", "readmit"], register: 200, readmit: 200, view: 404, after: 201 },
  { order: ["register", "readmit", "delete"], register: 200, readmit: 404, view: 410, after: 403 },
  { order: ["readmit", "delete", "register"], register: 403, readmit: 404, view: 410, after: 403 },
  { order: ["readmit", "register", "delete"], register: 200, readmit: 404, view: 410, after: 403 },
];

test("removals, registrations and readmissions of one id, in every order and at once, leave registry, API and broker agreeing", async () => {
  const t = await startTestHub();
  try {
    const lastTs = new Map<string, number>();
    /** A registration body with a proof newer than the node's last one (two in one millisecond would be a replay). */
    const signed = (node: TestNode) => {
      const ts = Math.max(Date.now(), (lastTs.get(node.nodeId) ?? 0) + 1);
      lastTs.set(node.nodeId, ts);
      return registerBody(node, { ts });
    };
    const step = (step: Step, node: TestNode, token: string) =>
      step === "delete"
        ? t.api("DELETE", `/federation/nodes/${node.nodeId}`)
        : step === "readmit"
          ? t.api("POST", `/federation/nodes/${node.nodeId}/readmit`)
          : t.api("POST", "/federation/register", signed(node), token);
    const registered = async (nodeId: string) => {
      const node = newNode(nodeId);
      const token = t.enrollmentToken({ uses: 10 });
      expect((await t.api("POST", "/federation/register", signed(node), token)).status).toBe(201);
      return { node, token };
    };

    /** The view, the registry, the node list and the broker say the same; a fresh registration gets what the view implies. */
    async function agree(node: TestNode, token: string, register: { status: number; body: any }, view: number): Promise<void> {
      const id = node.nodeId;
      expect((await t.api("GET", `/federation/nodes/${id}`)).status).toBe(view);
      const { store } = t.hub.context;
      expect((await store.nodes.get(id)) !== undefined).toBe(view === 200);
      expect((await store.tombstones.standing(id)) !== undefined).toBe(view === 410);
      expect((await store.tombstones.get(id)) !== undefined).toBe(view !== 200); // readmitted and not back: still there, lifted
      expect((await t.api("GET", "/federation/nodes?limit=1000")).body.nodes.some((n: any) => n.node_id === id)).toBe(view === 200);
      // The registration's credentials work on the broker exactly when it is the one that stands.
      if (register.status === 200 || register.status === 201) {
        if (view === 200) await (await connectNode(register.body.mqtt)).endAsync(true);
        else await expect(connectNode(register.body.mqtt)).rejects.toThrow();
      }
      const after = await t.api("POST", "/federation/register", signed(node), token);
      expect(after.status).toBe(view === 410 ? 403 : view === 404 ? 201 : 200);
      if (after.status !== 403) await (await connectNode(after.body.mqtt)).endAsync(true);
    }

    // Each order on its own, awaiting every step.
    for (const [i, expected] of ORDERINGS.entries()) {
      const { node, token } = await registered(`order-tomb-${i}`);
      const answers = new Map<Step, { status: number; body: any }>();
      for (const s of expected.order) answers.set(s, await step(s, node, token));
      const what = `${expected.order.join(" -> ")}: ${JSON.stringify(Object.fromEntries([...answers].map(([k, v]) => [k, v.status])))}`;
      expect({ what, delete: answers.get("delete")!.status, register: answers.get("register")!.status, readmit: answers.get("readmit")!.status }).toEqual({
        what,
        delete: 200,
        register: expected.register,
        readmit: expected.readmit,
      });
      if (expected.register === 403) expect(answers.get("register")!.body.error).toBe("node_removed");
      await agree(node, token, answers.get("register")!, expected.view);
      // The view implied by this order is the one ORDERINGS names, and a fresh registration gets `after`.
      expect(expected.after).toBe(expected.view === 410 ? 403 : expected.view === 404 ? 201 : 200);
    }

    // All three at once, sent in each order in turn: the per-node lock runs them in
    // arrival order, so the answers must fit one of the orders above. The registration
    // is signed as the three are sent, so after a removal and a readmission its proof
    // predates the readmission (401), unless it was signed in that same millisecond (201).
    for (let round = 0; round < 12; round++) {
      const { node, token } = await registered(`race-tomb-${round}`);
      const order = ORDERINGS[round % ORDERINGS.length]!.order;
      const sent = await Promise.all(order.map((s) => step(s, node, token)));
      const answer = (s: Step) => sent[order.indexOf(s)]!;
      const [removed, again, readmit] = [answer("delete"), answer("register"), answer("readmit")];
      expect(removed.status).toBe(200);
      expect([200, 404]).toContain(readmit.status);
      // 404: the readmission came before the removal, which then stands.
      if (readmit.status === 404) expect([200, 403]).toContain(again.status);
      else expect([200, 201, 401, 403]).toContain(again.status);
      if (again.status === 401) expect(again.body).toEqual({ error: "invalid_proof", detail: expect.stringContaining("before the readmission") });
      const view = readmit.status === 404 ? 410 : again.status === 201 ? 200 : 404;
      await agree(node, token, again, view);
    }
  } finally {
    await t.stop();
  }
}, 60_000);

test("a readmitted node's registration that the broker does not take undoes itself: still readmitted, no token use spent", async () => {
  const { startMosquitto } = await import("./support/mosquitto.ts");
  const mosquitto = await startMosquitto({ dynsec: true });
  const t = await startTestHub({ mosquitto });
  try {
    const node = newNode("undo-readmit");
    const returning = t.enrollmentToken({ uses: 1 });
    expect((await t.api("POST", "/federation/register", registerBody(node), returning)).status).toBe(201);
    expect((await t.api("DELETE", "/federation/nodes/undo-readmit")).status).toBe(200);
    expect((await t.api("POST", "/federation/nodes/undo-readmit/readmit")).status).toBe(200);
    const other = newNode("undo-readmit"); // another key: a new node, which spends a use
    const fresh = t.enrollmentToken({ uses: 1 });

    await mosquitto.kill();
    for (const [who, token] of [[node, returning], [other, fresh]] as const) {
      const failed = await t.api("POST", "/federation/register", registerBody(who), token);
      expect(failed.status).toBe(503);
      expect(failed.body.error).toBe("broker_unavailable");
    }
    expect(await usesLeft(t, fresh)).toBe(1); // refunded
    expect(await usesLeft(t, returning)).toBeUndefined(); // still used up: nothing was spent, so nothing is given back
    expect((await t.api("GET", "/federation/nodes/undo-readmit")).status).toBe(404); // not registered, not removed
    expect((await t.api("POST", "/federation/nodes/undo-readmit/readmit")).body.detail).toContain("readmitted already");

    await mosquitto.restart();
    // The tombstone still remembers the key, so the used-up token still brings the node back.
    const back = await eventually(async () => {
      const r = await t.api("POST", "/federation/register", registerBody(node), returning);
      return r.status !== 503 && r;
    }, 20_000, "the broker back");
    expect(back.status).toBe(201);
  } finally {
    await t.stop();
    await mosquitto.stop();
  }
}, 60_000);
