// POST /federation/register, without the HTTP: check the enrollment token and
// the body, refuse a taken node id or a removed one (a tombstone stands until
// an operator readmits it), issue fresh MQTT credentials, store the
// node (group commit), and grant it on the broker. The old password stops
// working as soon as a new one is issued.
import { RegisterRequest, type RegisterResponse } from "../../protocol/messages.ts";
import { verifyMessage } from "../../protocol/signing.ts";
import { isReservedNodeId } from "../broker/broker-access.ts";
import { deliveryOf, NODE_TOPIC_KINDS, nodeTopic } from "../../protocol/topics.ts";
import { appendAudit } from "../audit/audit-chain.ts";
import { NODE_REMOVED, type Decisions } from "../decisions/decisions.ts";
import { DomainError, invalidInput, unknownNodeError } from "../errors.ts";
import type { HubContext } from "../hub-context.ts";
import { tokenHash } from "../identity/enrollment-tokens.ts";
import type { NodeRecord } from "./node-model.ts";
import { emptyLive } from "./node-model.ts";
import { hashSecret, randomSecret } from "../identity/secrets.ts";
import type { StoreTransaction, Tombstone } from "../store/hub-store.ts";

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
  const hash = token ? tokenHash(token) : undefined;
  if (!hash || !(await hub.store.tokens.known(hash, now))) {
    throw new DomainError("unauthorized", "invalid_token", "enrollment token missing, unknown or expired");
  }
  const parsed = RegisterRequest.safeParse(rawBody);
  if (!parsed.success) throw invalidInput(parsed.error.issues);
  const body = parsed.data;
  if (isReservedNodeId(body.node_id, [hub.settings.mqttUsername])) {
    throw new DomainError("conflict", "node_id_taken", `${body.node_id} is reserved for the hub's own broker connections`);
  }
  if (body.sig !== undefined) {
    const problem = proofProblem(body, now);
    if (problem) throw new DomainError("unauthorized", "invalid_proof", problem);
  }
  // Checked before anything is stored; signed only once the registration stands (below).
  const issuer = body.csr !== undefined ? hub.clientCertificates : null;
  const csrProblem = issuer ? await issuer.csrProblem(body.csr!, body.node_id) : null;
  if (csrProblem) throw new DomainError("invalid", "invalid_csr", csrProblem);

  // One registration or removal of a node at a time, so the row, the fleet
  // view and the broker's identity always end up saying the same thing.
  return hub.nodeLocks.run(body.node_id, async () => {
    const password = randomSecret(32);
    const { record, previous, tombstone, spent } = await hub.store.write(async (tx) => {
      // Before the token is touched: a refused removed node spends no use.
      const tombstone = await tx.tombstones.get(body.node_id);
      if (tombstone && tombstone.readmittedAt === null) throw removedError(tombstone, "forbidden");
      const existing = await tx.nodes.get(body.node_id);
      if (existing && existing.publicKey !== body.public_key) {
        throw new DomainError("conflict", "node_id_taken", `${body.node_id} is registered with another public key`);
      }
      // A readmitted node back with the key it had is treated like a re-registration
      // (proof needed, no token use), so a used-up one-use token still brings it back.
      const returning = tombstone !== undefined && tombstone.publicKey === body.public_key;
      if (existing || returning) {
        // The proof's signature and clock were checked above; here only whether there is one and it is new.
        if (body.sig === undefined) throw new DomainError("unauthorized", "proof_required", "re-registering needs ts and sig signed with the node's private key");
        if (existing && existing.proofTs !== null && body.ts! <= existing.proofTs) {
          throw new DomainError("unauthorized", "invalid_proof", "ts is not newer than the last proof (a replay?)");
        }
        // No node row keeps the last proof of a returning node: proofs signed before
        // its readmission (one refused while it was removed, or one captured off the
        // wire) are dead, or a replay would hand out its credentials again.
        if (!existing && returning && body.ts! < tombstone.readmittedAt!) {
          throw new DomainError(
            "unauthorized",
            "invalid_proof",
            `ts is before ${body.node_id} was readmitted at ${new Date(tombstone.readmittedAt!).toISOString()}: the proof was signed before the readmission (a replay?); sign a new one`,
          );
        }
        await tx.tokens.countReuse(hash);
      } else if (!(await tx.tokens.spendUse(hash, now))) {
        throw new DomainError("unauthorized", "invalid_token", "enrollment token used up");
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
      await tx.nodes.save(record);
      if (tombstone) {
        await tx.tombstones.delete(record.nodeId); // readmitted, and now back
        // Removal closes what the id had pending; a registry removed by an older hub may still hold some.
        await tx.decisions.closePending(record.nodeId, NODE_REMOVED, tombstone.removedAt);
      }
      await announceNode(hub, tx, record.nodeId);
      return { record, previous: existing, tombstone, spent: !existing && !returning };
    });

    try {
      await hub.broker.grant({ nodeId: record.nodeId, username: record.nodeId, password });
    } catch (error) {
      hub.log(`broker grant for ${record.nodeId} failed: ${(error as Error).message}`);
      // Undo, so the registry never holds a password the broker does not know.
      await hub.store.write(async (tx) => {
        if (previous) await tx.nodes.save(previous);
        else {
          await tx.nodes.delete(record.nodeId);
          if (spent) await tx.tokens.refundUse(hash);
          if (tombstone) await tx.tombstones.put(tombstone); // still readmitted, not yet back
        }
        await announceNode(hub, tx, record.nodeId);
      });
      throw new DomainError("unavailable", "broker_unavailable", "the broker did not take the node's credentials; nothing was changed, try again");
    }
    hub.fleet.put(record);
    // Under the same proof as the credentials: a new node's token, or a re-registration's signature (which covers the csr).
    const clientCertificate = issuer ? await issuer.issue(body.csr!, record.nodeId) : undefined;
    hub.log(`${previous ? "re-registered" : tombstone ? "readmitted and registered" : "registered"} node ${record.nodeId} (${record.arch})${clientCertificate ? ", client certificate issued" : ""}`);

    return {
      created: !previous,
      body: {
        status: "registered",
        registration_id: record.registrationId,
        node_id: record.nodeId,
        mqtt: { url: hub.brokerUrlFor(requestHost), username: record.nodeId, password, client_id: record.nodeId },
        heartbeat_s: hub.settings.heartbeatS,
        hub_public_key: hub.identity.keys.publicKey,
        follows: (await hub.store.decisions.hasPolicy(record.nodeId)) ? "node" : "fleet",
        ...(clientCertificate ? { client_certificate: { cert: clientCertificate.cert, expires_at: clientCertificate.expiresAt } } : {}),
      },
    };
  });
}

/** Other hub replicas on a shared registry take the node's row (or its absence) once this transaction commits. */
async function announceNode(hub: HubContext, tx: StoreTransaction, nodeId: string): Promise<void> {
  if (hub.changeFeed) await hub.changeFeed.announce(tx, { kind: "node", id: nodeId });
}

/** A removed node's registration is refused ("forbidden"); its views are "gone" until it is readmitted. */
function removedError(tombstone: Tombstone, kind: "forbidden" | "gone"): DomainError {
  const id = tombstone.nodeId;
  return new DomainError(
    kind,
    "node_removed",
    `${id} was removed from this hub at ${new Date(tombstone.removedAt).toISOString()}; ` +
      `an operator can readmit it with POST /federation/nodes/${id}/readmit, then it may register again`,
  );
}

/** Why an id has no registered node: gone while its removal stands (until readmitted), else not found. */
export async function notRegisteredError(hub: HubContext, nodeId: string): Promise<DomainError> {
  const tombstone = await hub.store.tombstones.standing(nodeId);
  return tombstone ? removedError(tombstone, "gone") : unknownNodeError(nodeId);
}

/**
 * DELETE /federation/nodes/:id: revoke the node's broker identity (which
 * disconnects it), forget it and leave a tombstone in its place (one
 * transaction), and clear its retained topics so watchers do not see a ghost.
 * The tombstone keeps the node from registering again until it is readmitted.
 * The decisions audit trail keeps what was sent to it; what it had not
 * acknowledged is closed as node_removed and its desired policy dropped, in
 * the tombstone's transaction, so nothing of it reaches whoever takes the id
 * next. A broker that does not revoke leaves everything as it was
 * ("unavailable"); an id that is not registered is "not_found", or "gone"
 * while removed.
 */
export async function removeNode(hub: HubContext, nodeId: string, decisions: Pick<Decisions, "closeRemoved" | "forgotten">, actor: string): Promise<void> {
  return hub.nodeLocks.run(nodeId, async () => {
    const node = hub.fleet.get(nodeId);
    if (!node) {
      const tombstone = await hub.store.tombstones.get(nodeId);
      if (!tombstone) throw unknownNodeError(nodeId);
      if (tombstone.readmittedAt === null) throw removedError(tombstone, "gone");
      // Readmitted but not back yet: the operator changed their mind, the removal stands again.
      await hub.store.write(async (tx) => {
        const removedAt = hub.clock();
        await tx.tombstones.put({ ...tombstone, removedAt, readmittedAt: null });
        await appendAudit(tx, { at: removedAt, actor, action: "node.remove", subject: nodeId, detail: { again: true } });
      });
      hub.log(`removed node ${nodeId} again before it came back`);
      return;
    }
    try {
      await hub.broker.revoke(nodeId);
    } catch (error) {
      hub.log(`broker revoke for ${nodeId} failed: ${(error as Error).message}`);
      throw new DomainError("unavailable", "broker_unavailable", "the broker did not revoke the node's credentials; nothing was changed, try again");
    }
    await hub.store.write(async (tx) => {
      const removedAt = hub.clock();
      await tx.nodes.delete(nodeId);
      await tx.tombstones.put({ nodeId, removedAt, publicKey: node.publicKey, readmittedAt: null });
      await decisions.closeRemoved(tx, nodeId, removedAt);
      await appendAudit(tx, { at: removedAt, actor, action: "node.remove", subject: nodeId, detail: { public_key: node.publicKey } });
      await announceNode(hub, tx, nodeId);
    });
    decisions.forgotten(nodeId);
    hub.fleet.remove(nodeId);
    for (const kind of NODE_TOPIC_KINDS.filter((kind) => deliveryOf(kind).retain)) {
      await hub.publish(nodeTopic(nodeId, kind), "", deliveryOf(kind)).catch(() => {}); // empty retained = cleared
    }
    hub.log(`removed node ${nodeId} and revoked its credentials; it cannot register again until readmitted`);
  });
}

/**
 * POST /federation/nodes/:id/readmit: lifts the removal, so the node may
 * register again: with the key it had like a re-registration (proof, no token
 * use), with another key as a new node. "not_found" (not_removed) if no
 * removal of the id stands.
 */
export async function readmitNode(hub: HubContext, nodeId: string, actor: string): Promise<void> {
  return hub.nodeLocks.run(nodeId, async () => {
    const readmitted = await hub.store.write(async (tx) => {
      const at = hub.clock();
      if (!(await tx.tombstones.readmit(nodeId, at))) return false;
      await appendAudit(tx, { at, actor, action: "node.readmit", subject: nodeId, detail: {} });
      return true;
    });
    if (!readmitted) {
      const why = hub.fleet.get(nodeId)
        ? "it is registered"
        : (await hub.store.tombstones.get(nodeId))
          ? "it was readmitted already and may register"
          : "no node by that id was removed";
      throw new DomainError("not_found", "not_removed", `${nodeId} has nothing to readmit: ${why}`);
    }
    hub.log(`readmitted node ${nodeId}: it may register again`);
  });
}
