// POST /federation/register, without the HTTP: check the enrollment token and
// the body, refuse a taken node id or a removed one (a tombstone stands until
// an operator readmits it), issue fresh MQTT credentials, store the
// node (group commit), and grant it on the broker. The old password stops
// working as soon as a new one is issued.
import { RegisterRequest, type RegisterResponse } from "../../protocol/messages.ts";
import { verifyMessage } from "../../protocol/signing.ts";
import { isReservedNodeId } from "../broker/broker-access.ts";
import { deliveryOf, NODE_TOPIC_KINDS, nodeTopic } from "../../protocol/topics.ts";
import { NODE_REMOVED, type Decisions } from "../decisions/decisions.ts";
import type { HubContext } from "../hub-context.ts";
import { HttpError, invalidBody } from "../http/http-error.ts";
import type { NodeRecord } from "./node-model.ts";
import { emptyLive } from "./node-model.ts";
import { hashSecret, randomSecret } from "../identity/secrets.ts";
import type { Tombstone } from "../store/tombstone-store.ts";

/** How far a registration proof's `ts` may be from the hub's clock. */
export const PROOF_WINDOW_MS = 5 * 60_000;

export interface RegistrationResult {
  created: boolean;
  body: RegisterResponse;
}

/** What is wrong with a proof that is present (checked once, before the node's lock). */
function proofProblem(body: RegisterRequest, now: number): string | null {
  if (body.ts === undefined) return "sig needs the ts it signs";
  if (Math.abs(body.ts - now) > PROOF_WINDOW_MS) return "ts is more than 5 minutes off the hub's clock";
  if (!verifyMessage(body, body.public_key)) return "sig does not verify with public_key";
  return null;
}

export async function registerNode(hub: HubContext, token: string | undefined, rawBody: unknown, requestHost: string | undefined): Promise<RegistrationResult> {
  const now = hub.clock();
  if (!token || !hub.registry.tokens.known(token, now)) {
    throw new HttpError(401, "invalid_token", "enrollment token missing, unknown or expired");
  }
  const parsed = RegisterRequest.safeParse(rawBody);
  if (!parsed.success) throw invalidBody(parsed.error.issues);
  const body = parsed.data;
  if (isReservedNodeId(body.node_id, [hub.settings.mqttUsername])) {
    throw new HttpError(409, "node_id_taken", `${body.node_id} is reserved for the hub's own broker connections`);
  }
  if (body.sig !== undefined) {
    const problem = proofProblem(body, now);
    if (problem) throw new HttpError(401, "invalid_proof", problem);
  }

  // One registration or removal of a node at a time, so the row, the fleet
  // view and the broker's identity always end up saying the same thing.
  return hub.nodeLocks.run(body.node_id, async () => {
    const password = randomSecret(32);
    const { record, previous, tombstone, spent } = await hub.registry.group.run(() => {
      // Before the token is touched: a refused removed node spends no use.
      const tombstone = hub.registry.tombstones.get(body.node_id);
      if (tombstone && tombstone.readmittedAt === null) throw removedError(tombstone);
      const existing = hub.registry.nodes.get(body.node_id);
      if (existing && existing.publicKey !== body.public_key) {
        throw new HttpError(409, "node_id_taken", `${body.node_id} is registered with another public key`);
      }
      // A readmitted node back with the key it had is treated like a re-registration
      // (proof needed, no token use), so a used-up one-use token still brings it back.
      const returning = tombstone !== undefined && tombstone.publicKey === body.public_key;
      if (existing || returning) {
        // The proof's signature and clock were checked above; here only whether there is one and it is new.
        if (body.sig === undefined) throw new HttpError(401, "proof_required", "re-registering needs ts and sig signed with the node's private key");
        if (existing && existing.proofTs !== null && body.ts! <= existing.proofTs) {
          throw new HttpError(401, "invalid_proof", "ts is not newer than the last proof (a replay?)");
        }
        // No node row keeps the last proof of a returning node: proofs signed before
        // its readmission (one refused while it was removed, or one captured off the
        // wire) are dead, or a replay would hand out its credentials again.
        if (!existing && returning && body.ts! < tombstone.readmittedAt!) {
          throw new HttpError(
            401,
            "invalid_proof",
            `ts is before ${body.node_id} was readmitted at ${new Date(tombstone.readmittedAt!).toISOString()}: the proof was signed before the readmission (a replay?); sign a new one`,
          );
        }
        hub.registry.tokens.countReuse(token);
      } else if (!hub.registry.tokens.spendUse(token, now)) {
        throw new HttpError(401, "invalid_token", "enrollment token used up");
      }
      const record: NodeRecord = {
        nodeId: body.node_id,
        registrationId: existing?.registrationId ?? `reg_${randomSecret(12)}`,
        publicKey: body.public_key,
        capabilities: body.capabilities,
        arch: body.arch,
        version: body.version,
        endpoint: body.endpoint ?? null,
        passwordHash: hashSecret(password),
        registeredAt: existing?.registeredAt ?? now,
        credentialsAt: now,
        proofTs: body.sig !== undefined ? body.ts! : (existing?.proofTs ?? null),
        health: "offline",
        healthSince: now,
        healthCause: "registered, not heard from yet",
        live: emptyLive(),
      };
      hub.registry.nodes.save(record);
      if (tombstone) {
        hub.registry.tombstones.delete(record.nodeId); // readmitted, and now back
        // Removal closes what the id had pending; a registry removed by an older hub may still hold some.
        hub.registry.decisions.closePending(record.nodeId, NODE_REMOVED, tombstone.removedAt);
      }
      return { record, previous: existing, tombstone, spent: !existing && !returning };
    });

    try {
      await hub.broker.grant({ nodeId: record.nodeId, username: record.nodeId, password });
    } catch (error) {
      hub.log(`broker grant for ${record.nodeId} failed: ${(error as Error).message}`);
      // Undo, so the registry never holds a password the broker does not know.
      await hub.registry.group.run(() => {
        if (previous) hub.registry.nodes.save(previous);
        else {
          hub.registry.nodes.delete(record.nodeId);
          if (spent) hub.registry.tokens.refundUse(token);
          if (tombstone) hub.registry.tombstones.put(tombstone); // still readmitted, not yet back
        }
      });
      throw new HttpError(503, "broker_unavailable", "the broker did not take the node's credentials; nothing was changed, try again");
    }
    hub.fleet.put(record);
    hub.log(`${previous ? "re-registered" : tombstone ? "readmitted and registered" : "registered"} node ${record.nodeId} (${record.arch})`);

    return {
      created: !previous,
      body: {
        status: "registered",
        registration_id: record.registrationId,
        node_id: record.nodeId,
        mqtt: { url: hub.brokerUrlFor(requestHost), username: record.nodeId, password, client_id: record.nodeId },
        heartbeat_s: hub.settings.heartbeatS,
        hub_public_key: hub.identity.keys.publicKey,
        follows: hub.registry.decisions.hasPolicy(record.nodeId) ? "node" : "fleet",
      },
    };
  });
}

/** 410 for the API's views of a removed node, 403 for its registration. */
export function removedError(tombstone: Tombstone, status: 403 | 410 = 403): HttpError {
  const id = tombstone.nodeId;
  return new HttpError(
    status,
    "node_removed",
    `${id} was removed from this hub at ${new Date(tombstone.removedAt).toISOString()}; ` +
      `an operator can readmit it with POST /federation/nodes/${id}/readmit, then it may register again`,
  );
}

export type RemovalOutcome = "removed" | "unknown" | "already_removed";

/**
 * DELETE /federation/nodes/:id: revoke the node's broker identity (which
 * disconnects it), forget it and leave a tombstone in its place (one
 * transaction), and clear its retained topics so watchers do not see a ghost.
 * The tombstone keeps the node from registering again until it is readmitted.
 * The decisions audit trail keeps what was sent to it; what it had not
 * acknowledged is closed as node_removed and its desired policy dropped, in
 * the tombstone's transaction, so nothing of it reaches whoever takes the id
 * next. A broker that does not revoke leaves everything as it was (503).
 */
export async function removeNode(hub: HubContext, nodeId: string, decisions: Pick<Decisions, "closeRemoved" | "forgotten">): Promise<RemovalOutcome> {
  return hub.nodeLocks.run(nodeId, async () => {
    const node = hub.fleet.get(nodeId);
    if (!node) {
      const tombstone = hub.registry.tombstones.get(nodeId);
      if (!tombstone) return "unknown";
      if (tombstone.readmittedAt === null) return "already_removed";
      // Readmitted but not back yet: the operator changed their mind, the removal stands again.
      await hub.registry.group.run(() => hub.registry.tombstones.put({ ...tombstone, removedAt: hub.clock(), readmittedAt: null }));
      hub.log(`removed node ${nodeId} again before it came back`);
      return "removed";
    }
    try {
      await hub.broker.revoke(nodeId);
    } catch (error) {
      hub.log(`broker revoke for ${nodeId} failed: ${(error as Error).message}`);
      throw new HttpError(503, "broker_unavailable", "the broker did not revoke the node's credentials; nothing was changed, try again");
    }
    await hub.registry.group.run(() => {
      const removedAt = hub.clock();
      hub.registry.nodes.delete(nodeId);
      hub.registry.tombstones.put({ nodeId, removedAt, publicKey: node.publicKey, readmittedAt: null });
      decisions.closeRemoved(nodeId, removedAt);
    });
    decisions.forgotten(nodeId);
    hub.fleet.remove(nodeId);
    for (const kind of NODE_TOPIC_KINDS.filter((kind) => deliveryOf(kind).retain)) {
      await hub.publish(nodeTopic(nodeId, kind), "", deliveryOf(kind)).catch(() => {}); // empty retained = cleared
    }
    hub.log(`removed node ${nodeId} and revoked its credentials; it cannot register again until readmitted`);
    return "removed";
  });
}

/**
 * POST /federation/nodes/:id/readmit: lifts the removal, so the node may
 * register again: with the key it had like a re-registration (proof, no token
 * use), with another key as a new node. False if no removal of the id stands.
 */
export async function readmitNode(hub: HubContext, nodeId: string): Promise<boolean> {
  return hub.nodeLocks.run(nodeId, async () => {
    const readmitted = await hub.registry.group.run(() => hub.registry.tombstones.readmit(nodeId, hub.clock()));
    if (readmitted) hub.log(`readmitted node ${nodeId}: it may register again`);
    return readmitted;
  });
}
