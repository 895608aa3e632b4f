// The agent's local registry (agent.sqlite in the data dir): who this node is
// (node id, Ed25519 key pair), the hubs it knows with the credentials each
// gave it, its capability advertisement, the policy in force and the
// decisions it applied. The outbox, the verdict feed's cursor and the
// connectivity log share the file; its tables are in agent-schema.ts. The
// intent journal lives in its own file (the intent processor owns it).
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_POLICY, type KernelPolicy } from "../kernel/policy.ts";
import type { SqliteDatabase } from "../lib/sqlite.ts";
import { generateKeyPair, type Ed25519KeyPair } from "../protocol/signing.ts";
import { openAgentDatabase } from "./agent-schema.ts";

export const AGENT_STORE_FILE = "agent.sqlite";

export interface NodeIdentity {
  nodeId: string;
  keys: Ed25519KeyPair;
  createdAt: number;
}

export interface HubRegistration {
  url: string;
  hubPublicKey: string;
  registrationId: string;
  mqtt: { url: string; username: string; password: string };
  heartbeatS: number;
  registeredAt: number;
}

export interface AppliedDecision {
  id: string;
  type: string;
  ok: boolean;
  error: string | null;
  appliedAt: number;
}

export type PolicySource = "default" | "decision" | "fleet" | "node";

export interface StoredPolicy {
  policy: KernelPolicy;
  version: number;
  source: PolicySource;
}

export class IdentityMismatchError extends Error {}

export class AgentStore {
  private constructor(readonly db: SqliteDatabase) {}

  static open(dataDir: string): AgentStore {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700); // holds the node's private key and broker password
    return new AgentStore(openAgentDatabase(join(dataDir, AGENT_STORE_FILE)));
  }

  /**
   * The node's identity, created with a fresh key pair on first start. A
   * store made for another node id is refused rather than silently reused:
   * the key pair is what the hub knows the node by.
   */
  identity(nodeId: string, now: number): NodeIdentity {
    const row = this.db.prepare("SELECT node_id, public_key, private_key, created_at FROM identity").get<{
      node_id: string;
      public_key: string;
      private_key: string;
      created_at: number;
    }>();
    if (row) {
      if (row.node_id !== nodeId) {
        throw new IdentityMismatchError(`${this.db.path} belongs to node ${row.node_id}, not ${nodeId}; use another data dir or the same node id`);
      }
      return { nodeId, keys: { publicKey: row.public_key, privateKey: row.private_key }, createdAt: row.created_at };
    }
    const keys = generateKeyPair();
    this.db.prepare("INSERT INTO identity (singleton, node_id, public_key, private_key, created_at) VALUES (1, ?, ?, ?, ?)").run(nodeId, keys.publicKey, keys.privateKey, now);
    return { nodeId, keys, createdAt: now };
  }

  /** Counts one more MQTT session and returns its number (birth's `session`). */
  nextSession(): number {
    return this.db.transaction(() => {
      this.db.prepare("UPDATE identity SET sessions = sessions + 1").run();
      return this.db.prepare("SELECT sessions FROM identity").get<{ sessions: number }>()!.sessions;
    });
  }

  registration(hubUrl: string): HubRegistration | undefined {
    const row = this.db.prepare("SELECT * FROM hubs WHERE url = ?").get<{
      url: string;
      hub_public_key: string;
      registration_id: string;
      mqtt_url: string;
      mqtt_username: string;
      mqtt_password: string;
      heartbeat_s: number;
      registered_at: number;
    }>(hubUrl);
    return (
      row && {
        url: row.url,
        hubPublicKey: row.hub_public_key,
        registrationId: row.registration_id,
        mqtt: { url: row.mqtt_url, username: row.mqtt_username, password: row.mqtt_password },
        heartbeatS: row.heartbeat_s,
        registeredAt: row.registered_at,
      }
    );
  }

  saveRegistration(registration: HubRegistration): void {
    this.db
      .prepare(
        `INSERT INTO hubs (url, hub_public_key, registration_id, mqtt_url, mqtt_username, mqtt_password, heartbeat_s, registered_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (url) DO UPDATE SET hub_public_key = excluded.hub_public_key, registration_id = excluded.registration_id,
           mqtt_url = excluded.mqtt_url, mqtt_username = excluded.mqtt_username, mqtt_password = excluded.mqtt_password,
           heartbeat_s = excluded.heartbeat_s, registered_at = excluded.registered_at`,
      )
      .run(
        registration.url,
        registration.hubPublicKey,
        registration.registrationId,
        registration.mqtt.url,
        registration.mqtt.username,
        registration.mqtt.password,
        registration.heartbeatS,
        registration.registeredAt,
      );
  }

  saveAdvertisement(ad: { capabilities: string[]; version: string; arch: string }, now: number): void {
    this.db
      .prepare(
        `INSERT INTO advertisement (singleton, capabilities, version, arch, updated_at) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (singleton) DO UPDATE SET capabilities = excluded.capabilities, version = excluded.version, arch = excluded.arch, updated_at = excluded.updated_at`,
      )
      .run(JSON.stringify(ad.capabilities), ad.version, ad.arch, now);
  }

  /** The policy in force, the desired-policy version it came from and its source ("default" and 0 before any). */
  policy(): StoredPolicy {
    const row = this.db.prepare("SELECT policy, version, source FROM policy").get<{ policy: string; version: number; source: PolicySource }>();
    return row
      ? { policy: JSON.parse(row.policy) as KernelPolicy, version: row.version, source: row.source }
      : { policy: { ...DEFAULT_POLICY }, version: 0, source: "default" };
  }

  savePolicy(stored: StoredPolicy, now: number): void {
    this.db
      .prepare(
        `INSERT INTO policy (singleton, policy, version, source, updated_at) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (singleton) DO UPDATE SET policy = excluded.policy, version = excluded.version, source = excluded.source, updated_at = excluded.updated_at`,
      )
      .run(JSON.stringify(stored.policy), stored.version, stored.source, now);
  }

  appliedDecision(id: string): AppliedDecision | undefined {
    const row = this.db.prepare("SELECT id, type, ok, error, applied_at FROM decisions_applied WHERE id = ?").get<{
      id: string;
      type: string;
      ok: number;
      error: string | null;
      applied_at: number;
    }>(id);
    return row && { id: row.id, type: row.type, ok: row.ok === 1, error: row.error, appliedAt: row.applied_at };
  }

  recordDecision(decision: AppliedDecision, message: string): void {
    this.db
      .prepare("INSERT INTO decisions_applied (id, type, ok, error, applied_at, message) VALUES (?, ?, ?, ?, ?, ?)")
      .run(decision.id, decision.type, decision.ok ? 1 : 0, decision.error, decision.appliedAt, message);
  }

  close(): void {
    this.db.close();
  }
}
