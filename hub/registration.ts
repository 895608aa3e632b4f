// POST /federation/register, without the HTTP: check the enrollment token and
// the body, refuse a taken node id, issue fresh MQTT credentials, store the
// node (group commit), and grant it on the broker. The old password stops
// working as soon as a new one is issued.
import { RegisterRequest, type RegisterResponse } from "../protocol/messages.ts";
import { verifyMessage } from "../protocol/signing.ts";
import { isReservedNodeId } from "./broker/broker-access.ts";
import { nodeTopic } from "../protocol/topics.ts";
import type { HubContext } from "./hub-context.ts";
import { HttpError, invalidBody } from "./http/http-error.ts";
import type { NodeRecord } from "./node-model.ts";
import { emptyLive } from "./node-model.ts";
import { hashSecret, randomSecret } from "./secrets.ts";

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
    const { record, previous } = await hub.registry.group.run(() => {
      const existing = hub.registry.nodes.get(body.node_id);
      if (existing && existing.publicKey !== body.public_key) {
        throw new HttpError(409, "node_id_taken", `${body.node_id} is registered with another public key`);
      }
      if (existing) {
        // The proof's signature and clock were checked above; here only whether there is one and it is new.
        if (body.sig === undefined) throw new HttpError(401, "proof_required", "re-registering needs ts and sig signed with the node's private key");
        if (existing.proofTs !== null && body.ts! <= existing.proofTs) {
          throw new HttpError(401, "invalid_proof", "ts is not newer than the last proof (a replay?)");
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
      return { record, previous: existing };
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
          hub.registry.tokens.refundUse(token);
        }
      });
      throw new HttpError(503, "broker_unavailable", "the broker did not take the node's credentials; nothing was changed, try again");
    }
    hub.fleet.put(record);
    hub.log(`${previous ? "re-registered" : "registered"} node ${record.nodeId} (${record.arch})`);

    return {
      created: !previous,
      body: {
        status: "registered",
        registration_id: record.registrationId,
        node_id: record.nodeId,
        mqtt: { url: hub.brokerUrlFor(requestHost), username: record.nodeId, password, client_id: record.nodeId },
        heartbeat_s: hub.settings.heartbeatS,
        hub_public_key: hub.identity.keys.publicKey,
      },
    };
  });
}

/**
 * DELETE /federation/nodes/:id: revoke the node's broker identity (which
 * disconnects it), forget it, and clear its retained topics so watchers do
 * not see a ghost. The decisions audit trail keeps what was sent to it.
 */
export async function removeNode(hub: HubContext, nodeId: string): Promise<boolean> {
  return hub.nodeLocks.run(nodeId, async () => {
    if (!hub.fleet.get(nodeId)) return false;
    await hub.broker.revoke(nodeId);
    await hub.registry.group.run(() => hub.registry.nodes.delete(nodeId));
    hub.fleet.remove(nodeId);
    for (const kind of ["state", "birth", "policy"] as const) {
      await hub.publish(nodeTopic(nodeId, kind), "", { qos: 1, retain: true }).catch(() => {}); // empty retained = cleared
    }
    hub.log(`removed node ${nodeId} and revoked its credentials`);
    return true;
  });
}
