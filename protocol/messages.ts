// Schemas of every protocol v1 payload, one definition each, used by agent
// and hub alike. Every payload is JSON a person can read on
// `mosquitto_sub -v -t 'edgefed/v1/#'`.
import { z } from "zod";
import { MODEL_NAME } from "../kernel/config.ts";
import { ESS_STATES, EXIT_KINDS, MODES, SYSTEM_STATUSES } from "../kernel/types.ts";
import { jsonDepthProblem, MAX_JSON_DEPTH } from "../lib/json-depth.ts";
import { AllowTables } from "./allow-tables.ts";
import { NODE_ID_PATTERN } from "./node-id.ts";
import { takeOutboxRef } from "./receipts.ts";
import { isPublicKey } from "./signing.ts";

/** No protocol payload may be larger; brokers and the hub drop what is. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

const nodeId = z.string().regex(NODE_ID_PATTERN, "node id: lowercase letters, digits and dashes, at most 63");
const timestamp = z.int().min(0); // ms since the epoch
const count = z.int().min(0);
/** Printable ASCII only: these land in logs, where a newline could forge a line. */
const shortText = z.string().regex(/^[\x20-\x7e]{1,128}$/, "1 to 128 printable ASCII characters");
const capability = z.string().regex(/^[a-z0-9][a-z0-9:._-]{0,63}$/, "capability: lowercase word");

export const StateMessage = z.strictObject({
  state: z.enum(["online", "offline"]),
  bootId: shortText,
  ts: timestamp,
});

export const BirthMessage = z.strictObject({
  node_id: nodeId,
  version: shortText,
  arch: z.enum(["arm64", "x64"]),
  capabilities: z.array(capability).max(64),
  kernel_config_hash: z.string().regex(/^sha256:[0-9a-f]{16}$/),
  bootId: shortText,
  /** Increases on every connect, so the hub can tell a reconnect from a reboot (new bootId). */
  session: z.int().min(1),
  ts: timestamp,
  /** The node's allow tables (allow-tables.ts); absent from agents before issue 11's allocation fix. */
  allowed_models: AllowTables.optional(),
  /** How many work packages it runs at once (issue 15); absent: none (an agent before work packages). */
  work_slots: z.int().min(0).max(64).optional(),
  /** The work kinds it resumes after a restart (work-kinds.ts): the hub keeps their leases while it is offline. Absent: none. */
  resumable_kinds: z.array(capability).max(64).optional(),
});

export const KernelCountersMessage = z.strictObject({
  evaluated: count,
  passed: count,
  held: count,
  duplicates: count,
  recovered: count,
});

export const HeartbeatMessage = z.strictObject({
  seq: count,
  ts: timestamp,
  uptime_s: z.number().min(0),
  load: z.tuple([z.number().min(0), z.number().min(0), z.number().min(0)]),
  rss_bytes: count,
  mode: z.enum(MODES),
  connectivity: z.enum(["online", "simulation"]),
  simulated: z.boolean(),
  outbox_depth: count,
  kernel: KernelCountersMessage,
  /** The ESS state the node's kernel judges from its portfolio (issue 11); absent from older agents. */
  ess_state: z.enum(ESS_STATES).optional(),
});

const nullableMetric = z.number().nullable();
export const VerdictEventMessage = z.strictObject({
  /** The journal's per-node seq: the hub sees these in increasing order, each once. */
  seq: z.int().min(1),
  ts: timestamp,
  simulated: z.boolean(),
  symbol: z.string().max(32),
  verdict: z.strictObject({
    id: z.string().min(1).max(128),
    verdict: z.enum(["PASS", "HOLD"]),
    reasons: z.array(z.string().max(64)).max(32),
    enforced: z.boolean(),
    mode: z.enum(MODES),
    metrics: z.strictObject({
      notional: nullableMetric,
      friction_usd: nullableMetric,
      required_edge_usd: nullableMetric,
      r_ratio: nullableMetric,
    }),
  }),
});

/**
 * A position close the strategy reported (POST /v1/closes), with its outcome:
 * what per-symbol protections of the federation roles count (stop-losses,
 * profit over a window). `seq` is the journal's close number on the node:
 * increasing, each once, so the hub takes a redelivery once.
 */
export const CloseMessage = z.strictObject({
  seq: z.int().min(1),
  symbol: z.string().min(1).max(32),
  /** When the position closed, as the strategy said. */
  ts: timestamp,
  /** Realised profit in USD, negative for a loss; absent when the strategy did not say. */
  pnl_usd: z.number().optional(),
  exit: z.enum(EXIT_KINDS).optional(),
});

// What a strategy process reports through its agent (protocol/reports.ts):
// the federation contract's field names, each a finite number (JSON cannot
// carry NaN, and zod refuses the Infinity that 1e400 parses to). Rates are
// fractions as in the contract (0.55 = 55%); counts are whole.
const anyNumber = z.number();
const atLeastZero = z.number().min(0, "must be 0 or more");
const fraction = z.number().min(0, "a fraction from 0 to 1 (0.55 = 55%)").max(1, "a fraction from 0 to 1 (0.55 = 55%)");

/** The strategy's portfolio, every few seconds (kernel/types.ts PortfolioSnapshot). */
export const PortfolioMessage = z.strictObject({
  total_equity: atLeastZero,
  /** Below the equity peak now, in the contract's unit (the ESS thresholds use the same); no upper bound. */
  drawdown_pct: atLeastZero,
  max_drawdown_pct: atLeastZero,
  realized_pnl_today: anyNumber,
  unrealized_pnl: anyNumber,
  num_positions: count,
  total_exposure_usd: atLeastZero,
  win_rate_today: fraction,
  sharpe_ratio_7d: anyNumber,
  ts: timestamp,
});

/** How the strategy process and its exchange link are, and its own ESS state. */
export const SystemHealthMessage = z.strictObject({
  system_status: z.enum(SYSTEM_STATUSES),
  ess_state: z.enum(ESS_STATES),
  ts: timestamp,
});

/** One model's performance, after trades or daily. */
export const ModelPerformanceMessage = z.strictObject({
  model_name: z.string().regex(MODEL_NAME, "1 to 64 of letters, digits, _ . and -"),
  sharpe_ratio: anyNumber,
  win_rate: fraction,
  /** Gross profit over gross loss; with no loss yet the strategy sends a finite stand-in. */
  profit_factor: atLeastZero,
  total_trades: count,
  /** May be fractional. */
  days_since_training: atLeastZero,
  ts: timestamp,
});

export const DECISION_TYPES = [
  "MODE_CHANGE",
  "CAPITAL_PROFILE",
  "RISK_ADJUSTMENT",
  "ESS_POLICY",
  "STRATEGY_ALLOCATION",
  "SYMBOL_UNIVERSE",
  "CASHFLOW",
  "FREEZE",
  "RESEARCH_TASK",
  "OVERRIDE",
] as const;
export type DecisionType = (typeof DECISION_TYPES)[number];

/** What a decision id looks like (`dec_` and 32 random characters, as the hub makes them). */
export const DECISION_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/** A hub decision as published on a node's `cmd` topic, signed by the hub's Ed25519 key. */
export const DecisionMessage = z.strictObject({
  id: z.string().regex(DECISION_ID_PATTERN),
  type: z.enum(DECISION_TYPES),
  target: z.union([nodeId, z.literal("fleet")]),
  payload: z.record(z.string(), z.unknown()),
  issuedAt: timestamp,
  expiresAt: timestamp,
  /** The hub's decision seq: the version of the desired policy that first folds this decision in. */
  seq: z.int().min(1),
  sig: z.string().min(1),
});

/**
 * The largest result an ack may carry, as JSON: a research task's answer is
 * a summary (counts, a hash), not a data set, and the ack must stay far
 * below MAX_PAYLOAD_BYTES.
 */
export const MAX_ACK_RESULT_BYTES = 16 * 1024;

/** Why a research task's result cannot travel in an ack, or null. The agent checks before it acks; the schema checks again. */
export function ackResultProblem(result: Record<string, unknown>): string | null {
  const json = JSON.stringify(result);
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_ACK_RESULT_BYTES) return `result of ${bytes} bytes exceeds ${MAX_ACK_RESULT_BYTES}`;
  // The ack is one level above its result, and the whole ack must stay within the nesting limit.
  return jsonDepthProblem(json, MAX_JSON_DEPTH - 1);
}

export const DecisionAckMessage = z.strictObject({
  id: z.string().min(1).max(64),
  ok: z.boolean(),
  error: z.string().max(1024).optional(),
  appliedAt: timestamp,
  /** What a RESEARCH_TASK found, from the node's handler for its task_type. */
  result: z
    .record(z.string(), z.unknown())
    .superRefine((result, ctx) => {
      const problem = ackResultProblem(result);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
});

/** Desired policy, retained on `nodes/{node}/policy` and `fleet/policy`; `version` only ever grows. */
export const DesiredPolicyMessage = z.strictObject({
  /** Whose policy this is (signed): the node id of `nodes/{node}/policy`, or "fleet" for `fleet/policy`. */
  target: z.union([nodeId, z.literal("fleet")]),
  version: z.int().min(1),
  issuedAt: timestamp,
  policy: z.record(z.string(), z.unknown()),
  sig: z.string().min(1),
});

/**
 * A change of the hub's CA, a deliberate operator act: the new CA certificate
 * (PEM), retained on `hub/ca`, signed by the hub's Ed25519 key, which nodes
 * pinned at registration. A node trusts it beside the CA it has until a
 * connection to the hub chains to the new one, then only the new one.
 */
export const HubCaMessage = z.strictObject({
  ca: z.string().regex(/^-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/, "one PEM certificate").max(16 * 1024),
  issuedAt: timestamp,
  sig: z.string().min(1),
});

export const HubStateMessage = z.strictObject({
  state: z.enum(["online", "offline"]),
  ts: timestamp,
});

/** Refused: with a small-order key anyone can forge the key holder's signatures (see isUsablePoint in signing.ts). */
const WEAK_KEY = "not a usable Ed25519 public key (not on the curve, of small order, or not canonically encoded)";

export const RegisterRequest = z.strictObject({
  node_id: nodeId,
  public_key: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "public_key: base64url Ed25519 key").refine(isPublicKey, WEAK_KEY),
  capabilities: z.array(capability).max(64),
  arch: z.enum(["arm64", "x64"]),
  version: shortText,
  endpoint: z.url().max(256).optional(),
  /**
   * Proof that the caller holds the node's private key: `sig` signs every
   * other field (signMessage) at time `ts`. Optional for a first
   * registration, required to re-register: a public key is public, so
   * without proof anyone holding a token could take over a node's
   * credentials.
   */
  ts: timestamp.optional(),
  sig: z.string().max(200).optional(),
  /**
   * Optional mutual TLS: a PEM certificate request for the node's own TLS key
   * (ECDSA P-256, subject exactly CN=<node_id>), signed over with the rest.
   * The hub answers with `client_certificate`.
   */
  csr: z.string().max(4096).optional(),
});

/** The hub's answer to a registration (201 new, 200 again). */
export const RegisterResponse = z.object({
  status: z.literal("registered"),
  registration_id: z.string().min(1).max(64),
  node_id: nodeId,
  mqtt: z.object({ url: z.string().min(1).max(256), username: z.string().min(1).max(128), password: z.string().min(16).max(256), client_id: z.string().min(1).max(128) }),
  heartbeat_s: z.number().positive(),
  hub_public_key: z.string().regex(/^[A-Za-z0-9_-]{43}$/).refine(isPublicKey, WEAK_KEY),
  /**
   * Which desired policy the node follows: "node" when the hub keeps one of
   * the node's own, "fleet" otherwise (e.g. after a removal forgot it). A
   * node told "fleet" stops waiting for a policy of its own. Absent from
   * older hubs.
   */
  follows: z.enum(["node", "fleet"]).optional(),
  /** The client certificate (PEM) the hub's CA issued for the request's `csr`; absent without a csr or from a hub that issues none. */
  client_certificate: z.object({ cert: z.string().min(1).max(8192), expires_at: timestamp }).optional(),
});

export type StateMessage = z.infer<typeof StateMessage>;
export type BirthMessage = z.infer<typeof BirthMessage>;
export type HeartbeatMessage = z.infer<typeof HeartbeatMessage>;
export type VerdictEventMessage = z.infer<typeof VerdictEventMessage>;
export type CloseMessage = z.infer<typeof CloseMessage>;
export type PortfolioMessage = z.infer<typeof PortfolioMessage>;
export type SystemHealthMessage = z.infer<typeof SystemHealthMessage>;
export type ModelPerformanceMessage = z.infer<typeof ModelPerformanceMessage>;
export type DecisionMessage = z.infer<typeof DecisionMessage>;
export type DecisionAckMessage = z.infer<typeof DecisionAckMessage>;
export type DesiredPolicyMessage = z.infer<typeof DesiredPolicyMessage>;
export type HubStateMessage = z.infer<typeof HubStateMessage>;
export type HubCaMessage = z.infer<typeof HubCaMessage>;
export type RegisterRequest = z.infer<typeof RegisterRequest>;
export type RegisterResponse = z.infer<typeof RegisterResponse>;

/**
 * `ob`: the sender's outbox id, when the payload carried one and the caller
 * asked for it (receipts.ts). A payload its schema refuses keeps its `ob`
 * when it could be read: the hub receipts what it refuses for good, so the
 * node does not send it again forever.
 */
export type DecodeResult<T> = { ok: true; value: T; ob?: number } | { ok: false; error: string; ob?: number };

/**
 * Decodes a raw MQTT payload: size limit, JSON, schema. Never throws; the
 * error names the first offending field so a log line says what was wrong.
 * With `outboxRef`, an `ob` field (the sender's outbox id, receipts.ts) is
 * taken out before the schema sees it and returned beside the value.
 */
export function decodePayload<S extends z.ZodType>(schema: S, payload: Uint8Array | string, options: { outboxRef?: boolean } = {}): DecodeResult<z.infer<S>> {
  const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > MAX_PAYLOAD_BYTES) return { ok: false, error: `payload of ${size} bytes exceeds ${MAX_PAYLOAD_BYTES}` };
  const tooDeep = jsonDepthProblem(payload);
  if (tooDeep) return { ok: false, error: tooDeep };
  let json: unknown;
  try {
    const text =
      typeof payload === "string"
        ? payload
        : (Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)).toString("utf8"); // no copy
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: "payload is not JSON" };
  }
  let ob: number | null = null;
  if (options.outboxRef) {
    const taken = takeOutboxRef(json);
    if ("error" in taken) return { ok: false, error: taken.error };
    ob = taken.ob;
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return ob === null ? { ok: true, value: parsed.data } : { ok: true, value: parsed.data, ob };
  const issue = parsed.error.issues[0]!;
  const error = `${issue.path.join(".") || "payload"}: ${issue.message}`;
  return ob === null ? { ok: false, error } : { ok: false, error, ob };
}
