// Registering with the hub: POST /federation/register with the enrollment
// token and a body signed with the node's key (the hub requires the proof to
// re-register, and each proof must be newer than the last). Retried with
// jittered exponential backoff while the hub is away; the agent works in
// simulation mode meanwhile. Once registered it never needs the token again.
import { jsonDepthProblem } from "../lib/json-depth.ts";
import { RegisterResponse } from "../protocol/messages.ts";
import { signMessage } from "../protocol/signing.ts";
import type { HubRegistration, NodeIdentity } from "./agent-store.ts";

export interface Advertisement {
  capabilities: string[];
  arch: "arm64" | "x64";
  version: string;
}

export type RegistrationAttempt =
  | {
      kind: "registered";
      registration: HubRegistration;
      /** "fleet": the hub keeps no policy of this node's own (absent: an older hub). */
      follows?: "node" | "fleet";
      /** The client certificate (PEM) the hub issued for the request's csr; absent when none was asked for or issued. */
      clientCertificate?: string;
      /** The hub did not know this node (201), rather than registering it again (200). */
      created: boolean;
    }
  /** The hub was unreachable or failing (network, 5xx, 429): try again soon. */
  | { kind: "unreachable"; reason: string }
  /** The hub answered no (400, 401, 409): an operator must act; keep trying, slowly. */
  | { kind: "refused"; status: number; reason: string }
  /** An operator removed this node on the hub (403 node_removed): wait, slowly, for a readmission. */
  | { kind: "removed"; reason: string };

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * `ca`: the hub's CA certificate (PEM), the only one trusted for an https hub
 * (Bun's fetch takes it as tls.ca, in place of the system store); "" trusts the system store.
 * `csr`: a certificate request for the node's TLS key (mutual TLS), signed over with the rest.
 */
export async function registerOnce(
  hubUrl: string,
  token: string,
  identity: NodeIdentity,
  advertisement: Advertisement,
  now: number,
  ca = "",
  csr?: string,
): Promise<RegistrationAttempt> {
  const body = signMessage(
    {
      node_id: identity.nodeId,
      public_key: identity.keys.publicKey,
      capabilities: advertisement.capabilities,
      arch: advertisement.arch,
      version: advertisement.version,
      ts: now,
      ...(csr ? { csr } : {}),
    },
    identity.keys.privateKey,
  );
  let response: Response;
  try {
    response = await fetch(new URL("/federation/register", hubUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      ...(ca ? { tls: { ca } } : {}),
    });
  } catch (error) {
    return { kind: "unreachable", reason: (error as Error).message };
  }
  const text = await response.text().catch(() => "");
  if (response.status === 200 || response.status === 201) {
    const tooDeep = jsonDepthProblem(text);
    if (tooDeep) return { kind: "unreachable", reason: `the hub's answer: ${tooDeep}` };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { kind: "unreachable", reason: "the hub's answer is not JSON" };
    }
    const parsed = RegisterResponse.safeParse(json);
    if (!parsed.success || parsed.data.node_id !== identity.nodeId) {
      return { kind: "unreachable", reason: "the hub's answer does not match the protocol" };
    }
    const answer = parsed.data;
    return {
      kind: "registered",
      registration: {
        url: hubUrl,
        hubPublicKey: answer.hub_public_key,
        registrationId: answer.registration_id,
        mqtt: { url: answer.mqtt.url, username: answer.mqtt.username, password: answer.mqtt.password },
        heartbeatS: answer.heartbeat_s,
        registeredAt: now,
      },
      follows: answer.follows,
      ...(answer.client_certificate ? { clientCertificate: answer.client_certificate.cert } : {}),
      created: response.status === 201,
    };
  }
  // Only the hub's error code and detail: never the request, which carries the token.
  const detail = /"detail"\s*:\s*"([^"]{0,300})"/.exec(text)?.[1] ?? text.slice(0, 200);
  if (response.status >= 500 || response.status === 429) return { kind: "unreachable", reason: `HTTP ${response.status}: ${detail}` };
  if (response.status === 403 && /"error"\s*:\s*"node_removed"/.test(text)) return { kind: "removed", reason: detail };
  return { kind: "refused", status: response.status, reason: detail };
}

