// POST /federation/register, without the HTTP: check the enrollment token and
// the body, refuse a taken node id, issue fresh MQTT credentials, store the
// node (group commit), and grant it on the broker. The old password stops
// working as soon as a new one is issued.
import { RegisterRequest } from "../protocol/messages.ts";
import { verifyMessage } from "../protocol/signing.ts";
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
  body: {
    status: "registered";
    registration_id: string;
    node_id: string;
    mqtt: { url: string; username: string; password: string; client_id: string };
    heartbeat_s: number;
    hub_public_key: string;
  };
}

function hasValidProof(body: RegisterRequest, now: number): boolean {
  return body.sig !== undefined && body.ts !== undefined && Math.abs(body.ts - now) <= PROOF_WINDOW_MS && verifyMessage(body, body.public_key);
}

export async function registerNode(hub: HubContext, token: string | undefined, rawBody: unknown, requestHost: string | undefined): Promise<RegistrationResult> {
  const now = hub.clock();
  if (!token || !hub.registry.tokens.valid(token, now)) {
    throw new HttpError(401, "invalid_token", "enrollment token missing, unknown, expired or used up");
  }
  const parsed = RegisterRequest.safeParse(rawBody);
  if (!parsed.success) throw invalidBody(parsed.error.issues);
  const body = parsed.data;
  if (body.node_id === hub.settings.mqttUsername) throw new HttpError(409, "node_id_taken", `${body.node_id} is the hub's broker user`);
  if (body.sig !== undefined && !hasValidProof(body, now)) {
    throw new HttpError(401, "invalid_proof", "sig does not verify with public_key, or ts is more than 5 minutes off");
  }

  const password = randomSecret(32);
  const { record, created } = await hub.registry.group.run(() => {
    const existing = hub.registry.nodes.get(body.node_id);
    if (existing && existing.publicKey !== body.public_key) {
      throw new HttpError(409, "node_id_taken", `${body.node_id} is registered with another public key`);
    }
    if (existing && !hasValidProof(body, now)) {
      throw new HttpError(401, "proof_required", "re-registering needs ts and sig signed with the node's private key");
    }
    if (existing) hub.registry.tokens.countReuse(token);
    else if (!hub.registry.tokens.spendUse(token, now)) throw new HttpError(401, "invalid_token", "enrollment token used up");
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
      health: "offline",
      healthSince: now,
      healthCause: "registered, not heard from yet",
      live: emptyLive(),
    };
    hub.registry.nodes.save(record);
    return { record, created: !existing };
  });

  try {
    await hub.broker.grant({ nodeId: record.nodeId, username: record.nodeId, password });
  } catch (error) {
    hub.log(`broker grant for ${record.nodeId} failed: ${(error as Error).message}`);
    throw new HttpError(503, "broker_unavailable", "the node is stored but the broker did not take its credentials; register again");
  }
  hub.fleet.put(record);
  hub.log(`${created ? "registered" : "re-registered"} node ${record.nodeId} (${record.arch}, ${record.version})`);

  return {
    created,
    body: {
      status: "registered",
      registration_id: record.registrationId,
      node_id: record.nodeId,
      mqtt: { url: hub.brokerUrlFor(requestHost), username: record.nodeId, password, client_id: record.nodeId },
      heartbeat_s: hub.settings.heartbeatS,
      hub_public_key: hub.identity.keys.publicKey,
    },
  };
}

/**
 * DELETE /federation/nodes/:id: revoke the node's broker identity (which
 * disconnects it), forget it, and clear its retained topics so watchers do
 * not see a ghost. The decisions audit trail keeps what was sent to it.
 */
export async function removeNode(hub: HubContext, nodeId: string): Promise<boolean> {
  if (!hub.fleet.get(nodeId)) return false;
  await hub.broker.revoke(nodeId);
  await hub.registry.group.run(() => {
    hub.registry.nodes.delete(nodeId);
    hub.registry.decisions.deletePolicy(nodeId);
  });
  hub.fleet.remove(nodeId);
  for (const kind of ["state", "birth", "policy"] as const) {
    await hub.publish(nodeTopic(nodeId, kind), "", { qos: 1, retain: true }).catch(() => {}); // empty retained = cleared
  }
  hub.log(`removed node ${nodeId} and revoked its credentials`);
  return true;
}
