// The registry's change feed on a real PostgreSQL (test/support/postgres.ts):
// each "replica" is a store of its own (its own pool and listening
// connection) on one registry.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { postgresForThisFile, postgresUnavailable } from "../../test/support/postgres.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import type { HubStore } from "../store/hub-store.ts";
import { ChangeFeed, parseChanges } from "./change-feed.ts";

const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`the replica change feed (${unavailable})`, () => test("feed", () => {}));
} else {
  const feeds: ChangeFeed[] = [];
  const registries = postgresForThisFile(() => Promise.all(feeds.map((feed) => feed.stop())));

  async function replica(url: string, hubId: string, log: (line: string) => void = () => {}): Promise<{ store: HubStore; feed: ChangeFeed }> {
    const store = await registries.openStore(url);
    const feed = await ChangeFeed.start(store.notifications!, hubId, log, { barrierTimeoutMs: 10_000 });
    feeds.push(feed);
    return { store, feed };
  }

  /** Collects the ids each kind's handler is called with. */
  function heardOn(feed: ChangeFeed): { node: string[]; decision: string[] } {
    const heard = { node: [] as string[], decision: [] as string[] };
    feed.on("node", (id) => void heard.node.push(id));
    feed.on("decision", (id) => void heard.decision.push(id));
    feed.ready();
    return heard;
  }

  describe("the replica change feed", () => {
    test("a change announced in a write reaches the other replicas once it commits, not the one that made it; a rolled-back write announces nothing", async () => {
      const url = await registries.server().freshRegistryUrl();
      const a = await replica(url, "a");
      const b = await replica(url, "b");
      const heardByA = heardOn(a.feed);
      const heardByB = heardOn(b.feed);

      await a.store
        .write(async (tx) => {
          await a.feed.announce(tx, { kind: "node", id: "pi-rolled-back" });
          throw new Error("rolled back");
        })
        .catch(() => {});
      await a.store.write((tx) => a.feed.announce(tx, { kind: "node", id: "pi-1" }));
      await a.store.write((tx) => a.feed.announce(tx, { kind: "decision", id: "dec_1" }));
      await eventually(async () => (heardByB.decision.length === 1 ? true : undefined), 5000, "b hears the decision");
      expect(heardByB).toEqual({ node: ["pi-1"], decision: ["dec_1"] });
      // B's barrier comes back after A's announcements: A has heard nothing of its own by then.
      expect(await a.feed.barrier()).toBe(true);
      expect(heardByA).toEqual({ node: [], decision: [] });
    });

    test("a barrier resolves only once every change committed before it has been handled", async () => {
      const url = await registries.server().freshRegistryUrl();
      const a = await replica(url, "a");
      const store = await registries.openStore(url);
      // B's handling of the change is held until B hears its barrier's nonce back.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const notifications = store.notifications!;
      const b = await ChangeFeed.start(
        {
          ...notifications,
          listen: (channel, onPayload, onListen) =>
            notifications.listen(
              channel,
              (payload) => {
                onPayload(payload);
                if (channel.startsWith("edgefed.barrier.")) release();
              },
              onListen,
            ),
        },
        "b",
        () => {},
      );
      feeds.push(b);
      const order: string[] = [];
      b.on("node", async (id) => {
        await held;
        order.push(`handled ${id}`);
      });
      b.ready();
      await a.store.write((tx) => a.feed.announce(tx, { kind: "node", id: "pi-slow" }));
      expect(await b.barrier().then((caughtUp) => (order.push("barrier"), caughtUp))).toBe(true);
      expect(order).toEqual(["handled pi-slow", "barrier"]);
    });

    test("reads in one turn share one barrier round trip", async () => {
      const url = await registries.server().freshRegistryUrl();
      const a = await replica(url, "a");
      const sent: string[] = [];
      const notify = a.store.notifications!.notify;
      (a.store.notifications as { notify: typeof notify }).notify = (channel, payload) => {
        sent.push(payload);
        return notify(channel, payload);
      };
      expect(await Promise.all([a.feed.barrier(), a.feed.barrier(), a.feed.barrier()])).toEqual([true, true, true]);
      expect(await a.feed.barrier()).toBe(true);
      expect(sent).toHaveLength(2);
    });

    test("a barrier whose nonce does not come back answers false after its timeout, logged once until one comes back", async () => {
      const url = await registries.server().freshRegistryUrl();
      const store = await registries.openStore(url);
      const notifications = store.notifications!;
      let deaf = true;
      const logged: string[] = [];
      const feed = await ChangeFeed.start(
        { ...notifications, listen: (channel, onPayload, onListen) => notifications.listen(channel, (payload) => deaf || onPayload(payload), onListen) },
        "a",
        (line) => logged.push(line),
        { barrierTimeoutMs: 50 },
      );
      feeds.push(feed);
      feed.ready();
      expect(await feed.barrier()).toBe(false);
      expect(await feed.barrier()).toBe(false);
      expect(logged.filter((line) => line.includes("no answer on the listening connection"))).toHaveLength(1);
      deaf = false;
      expect(await feed.barrier()).toBe(true);
      expect(logged.at(-1)).toContain("answers again");
    });

    test("after the listening connection is cut, the client listens again and the replica reloads what it caches; later changes arrive again", async () => {
      const url = await registries.server().freshRegistryUrl();
      const a = await replica(url, "a");
      const logged: string[] = [];
      const b = await replica(url, "b", (line) => logged.push(line));
      const heardByB = heardOn(b.feed);
      let reloads = 0;
      b.feed.onReconnect(async () => void reloads++);

      const admin = postgres(registries.server().url, { max: 1, onnotice: () => {} });
      try {
        // Both replicas listen: cut every listening connection.
        const cut = await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'listen%' AND pid <> pg_backend_pid()`;
        expect(cut.length).toBeGreaterThan(0);
      } finally {
        await admin.end();
      }
      await eventually(async () => (reloads > 0 ? true : undefined), 10_000, "b reloads after its reconnect");
      expect(logged.some((line) => line.includes("listening again after a reconnect"))).toBe(true);
      await a.store.write((tx) => a.feed.announce(tx, { kind: "node", id: "pi-after" }));
      await eventually(async () => (heardByB.node.includes("pi-after") ? true : undefined), 10_000, "b hears a change after its reconnect");
    });

    test("replicas of two registries on one server do not hear each other", async () => {
      const first = await replica(await registries.server().freshRegistryUrl(), "a");
      const other = await replica(await registries.server().freshRegistryUrl(), "b");
      const heard = heardOn(other.feed);
      expect(first.feed.channel).not.toBe(other.feed.channel);
      await first.store.write((tx) => first.feed.announce(tx, { kind: "node", id: "pi-elsewhere" }));
      // Committed before the barrier was sent: had it been on the other's channel, it would have been heard first.
      expect(await other.feed.barrier()).toBe(true);
      expect(heard.node).toEqual([]);
    });

    test("changes announced after their commit are gathered into one notification, each once", async () => {
      const url = await registries.server().freshRegistryUrl();
      const a = await replica(url, "a");
      const b = await replica(url, "b");
      const sent: string[] = [];
      const notify = a.store.notifications!.notify;
      (a.store.notifications as { notify: typeof notify }).notify = (channel, payload) => (sent.push(payload), notify(channel, payload));
      const heardByB = heardOn(b.feed);
      for (const id of ["dec_1", "dec_2", "dec_1", "dec_3"]) a.feed.announceCommitted({ kind: "decision", id });
      await eventually(async () => (heardByB.decision.length === 3 ? true : undefined), 5000, "b hears the three decisions");
      expect(heardByB.decision).toEqual(["dec_1", "dec_2", "dec_3"]);
      expect(sent).toHaveLength(1);
    });

    test("stop() resolves only once the handling of changes heard before it has finished (the store it reads is closed next)", async () => {
      const url = await registries.server().freshRegistryUrl();
      const a = await replica(url, "a");
      const b = await replica(url, "b");
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let handling = false;
      let handled = false;
      b.feed.on("node", async () => {
        handling = true;
        await held;
        handled = true;
      });
      b.feed.ready();
      await a.store.write((tx) => a.feed.announce(tx, { kind: "node", id: "pi-1" }));
      await eventually(() => handling, 5000, "b handling the change");
      let stopped = false;
      const stopping = b.feed.stop().then(() => (stopped = true));
      // The stop's own round trips (UNLISTEN) finish meanwhile; the handler is still held.
      await a.feed.barrier();
      expect(stopped).toBe(false);
      release();
      await stopping;
      expect(handled).toBe(true);
    });

    test("payloads: origin, then kind and id of each change; anything else is not a change", () => {
      expect(parseChanges("hub-a/0a1b node:pi-01")).toEqual({ origin: "hub-a/0a1b", changes: [{ kind: "node", id: "pi-01" }] });
      expect(parseChanges("hub-a/0a1b policy:fleet decision:dec_1")).toEqual({ origin: "hub-a/0a1b", changes: [{ kind: "policy", id: "fleet" }, { kind: "decision", id: "dec_1" }] });
      expect(parseChanges("hub-a/0a1b work:w1")).toBeNull();
      expect(parseChanges("hub-a/0a1b node:pi-01 nonsense")).toBeNull();
      expect(parseChanges("node:pi-01")).toBeNull();
      expect(parseChanges("hub-a node:")).toBeNull();
    });
  });
}
