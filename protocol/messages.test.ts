import { describe, expect, test } from "bun:test";
import { MAX_JSON_DEPTH } from "../lib/json-depth.ts";
import {
  ackResultProblem,
  BirthMessage,
  DecisionAckMessage,
  DecisionMessage,
  HeartbeatMessage,
  MAX_ACK_RESULT_BYTES,
  MAX_PAYLOAD_BYTES,
  ModelPerformanceMessage,
  PortfolioMessage,
  RegisterRequest,
  SystemHealthMessage,
  VerdictEventMessage,
  decodePayload,
} from "./messages.ts";
import { generateKeyPair } from "./signing.ts";

const heartbeat = {
  seq: 7,
  ts: 1_764_000_000_000,
  uptime_s: 12.5,
  load: [0.1, 0.2, 0.3],
  rss_bytes: 40_000_000,
  mode: "LIVE",
  connectivity: "online",
  simulated: false,
  outbox_depth: 0,
  kernel: { evaluated: 10, passed: 3, held: 7, duplicates: 1, recovered: 0 },
};

describe("messages", () => {
  test("valid payloads decode from bytes and strings", () => {
    expect(decodePayload(HeartbeatMessage, Buffer.from(JSON.stringify(heartbeat)))).toEqual({ ok: true, value: heartbeat as never });
    const birth = { node_id: "pi-01", version: "0.1.0", arch: "arm64", capabilities: ["gate", "sim"], kernel_config_hash: "sha256:601c52326843c83f", bootId: "b1", session: 1, ts: 1 };
    expect(decodePayload(BirthMessage, JSON.stringify(birth))).toEqual({ ok: true, value: birth as never });
  });

  test("errors name the offending field; unknown fields are refused", () => {
    expect(decodePayload(HeartbeatMessage, JSON.stringify({ ...heartbeat, seq: -1 }))).toMatchObject({ ok: false, error: expect.stringMatching(/^seq: /) });
    expect(decodePayload(HeartbeatMessage, JSON.stringify({ ...heartbeat, kernel: { ...heartbeat.kernel, held: 1.5 } }))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^kernel\.held: /),
    });
    expect(decodePayload(HeartbeatMessage, JSON.stringify({ ...heartbeat, secret: "x" }))).toMatchObject({ ok: false });
    expect(decodePayload(HeartbeatMessage, "{nope")).toEqual({ ok: false, error: "payload is not JSON" });
    expect(decodePayload(HeartbeatMessage, "null")).toMatchObject({ ok: false, error: expect.stringMatching(/^payload: /) });
  });

  test("oversized payloads are refused before parsing", () => {
    const big = JSON.stringify({ ...heartbeat, pad: "x".repeat(MAX_PAYLOAD_BYTES) });
    expect(decodePayload(HeartbeatMessage, big)).toEqual({ ok: false, error: `payload of ${big.length} bytes exceeds ${MAX_PAYLOAD_BYTES}` });
  });

  test("decisions: known types only, a node id or 'fleet' as target", () => {
    const d = { id: "d-12345678", type: "FREEZE", target: "fleet", payload: { freeze_until: 5 }, issuedAt: 1, expiresAt: 2, seq: 1, sig: "s" };
    expect(DecisionMessage.safeParse(d).success).toBe(true);
    expect(DecisionMessage.safeParse({ ...d, target: "Fleet" }).success).toBe(false);
    expect(DecisionMessage.safeParse({ ...d, type: "REBOOT" }).success).toBe(false);
    expect(DecisionMessage.safeParse({ ...d, payload: [] }).success).toBe(false);
  });

  test("verdict events carry the kernel's verdict with its journal seq", () => {
    const event = {
      seq: 1,
      ts: 1,
      simulated: true,
      symbol: "BTCUSDT",
      verdict: { id: "a", verdict: "HOLD", reasons: ["COOLDOWN"], enforced: true, mode: "LIVE", metrics: { notional: 1, friction_usd: 0, required_edge_usd: 0, r_ratio: null } },
    };
    expect(VerdictEventMessage.safeParse(event).success).toBe(true);
    expect(VerdictEventMessage.safeParse({ ...event, seq: 0 }).success).toBe(false);
  });

  test("registration requests: node id, base64url key, optional http(s) endpoint", () => {
    const req = { node_id: "pi-01", public_key: generateKeyPair().publicKey, capabilities: ["gate"], arch: "arm64", version: "0.1.0" };
    expect(RegisterRequest.safeParse(req).success).toBe(true);
    expect(RegisterRequest.safeParse({ ...req, endpoint: "http://10.0.0.5:8081" }).success).toBe(true);
    expect(RegisterRequest.safeParse({ ...req, node_id: "PI 01" }).success).toBe(false);
    expect(RegisterRequest.safeParse({ ...req, public_key: "short" }).success).toBe(false);
    expect(RegisterRequest.safeParse({ ...req, public_key: "A".repeat(43) }).success).toBe(false); // (0, y = 0): a point of order 4
    expect(RegisterRequest.safeParse({ ...req, arch: "armv7" }).success).toBe(false);
  });

  test("strategy reports on the wire: the contract's names, strict, numbers finite and in range", () => {
    const portfolio = {
      total_equity: 5000,
      drawdown_pct: 0.03,
      max_drawdown_pct: 0.08,
      realized_pnl_today: -12,
      unrealized_pnl: 4,
      num_positions: 0,
      total_exposure_usd: 0,
      win_rate_today: 1,
      sharpe_ratio_7d: -0.4,
      ts: 1_764_000_000_000,
    };
    expect(decodePayload(PortfolioMessage, JSON.stringify(portfolio))).toEqual({ ok: true, value: portfolio });
    // The local API leaves extra fields out; on the wire an unknown field is refused, as for every payload.
    expect(decodePayload(PortfolioMessage, JSON.stringify({ ...portfolio, cash_balance: 1 }))).toMatchObject({ ok: false });
    expect(decodePayload(PortfolioMessage, '{"total_equity":1e400}')).toMatchObject({ ok: false, error: expect.stringMatching(/^total_equity: /) });
    expect(decodePayload(PortfolioMessage, JSON.stringify({ ...portfolio, win_rate_today: 1.5 }))).toMatchObject({ ok: false, error: expect.stringMatching(/^win_rate_today: /) });
    const health = { system_status: "EMERGENCY", ess_state: "CRITICAL", ts: 1 };
    expect(SystemHealthMessage.safeParse(health).success).toBe(true);
    expect(SystemHealthMessage.safeParse({ ...health, ess_state: "EMERGENCY" }).success).toBe(false);
    const model = { model_name: "PatchTST", sharpe_ratio: 0.9, win_rate: 0.51, profit_factor: 1.1, total_trades: 7, days_since_training: 0.5, ts: 1 };
    expect(ModelPerformanceMessage.safeParse(model).success).toBe(true);
    expect(ModelPerformanceMessage.safeParse({ ...model, model_name: "a/b" }).success).toBe(false);
    expect(ModelPerformanceMessage.safeParse({ ...model, total_trades: 7.5 }).success).toBe(false);
  });
});

describe("DecisionAckMessage: a research task's result", () => {
  const ack = { id: "dec_0123456789", ok: true, appliedAt: 1_764_000_000_000 };

  test("an ack without a result, and one with a JSON object, decode", () => {
    expect(decodePayload(DecisionAckMessage, JSON.stringify(ack))).toEqual({ ok: true, value: ack });
    const result = { total: 2, by_reason: { COOLDOWN: 2 } };
    expect(decodePayload(DecisionAckMessage, JSON.stringify({ ...ack, result }))).toEqual({ ok: true, value: { ...ack, result } });
  });

  test("a result is an object no larger than MAX_ACK_RESULT_BYTES (inclusive)", () => {
    const padding = (bytes: number) => ({ note: "x".repeat(bytes - '{"note":""}'.length) });
    expect(ackResultProblem(padding(MAX_ACK_RESULT_BYTES))).toBeNull();
    expect(decodePayload(DecisionAckMessage, JSON.stringify({ ...ack, result: padding(MAX_ACK_RESULT_BYTES) })).ok).toBe(true);
    const tooBig = decodePayload(DecisionAckMessage, JSON.stringify({ ...ack, result: padding(MAX_ACK_RESULT_BYTES + 1) }));
    expect(tooBig).toEqual({ ok: false, error: `result: result of ${MAX_ACK_RESULT_BYTES + 1} bytes exceeds ${MAX_ACK_RESULT_BYTES}` });
    for (const result of [[1, 2], "text", 3, null]) {
      expect(decodePayload(DecisionAckMessage, JSON.stringify({ ...ack, result })).ok).toBe(false);
    }
  });

  test("the nesting limit counts the ack around the result", () => {
    const nested = (levels: number): unknown => (levels === 0 ? 1 : { n: nested(levels - 1) });
    // result is level 2 of the ack: 31 levels of its own reach the limit of 32 and no further.
    expect(ackResultProblem(nested(MAX_JSON_DEPTH - 1) as Record<string, unknown>)).toBeNull();
    expect(decodePayload(DecisionAckMessage, JSON.stringify({ ...ack, result: nested(MAX_JSON_DEPTH - 1) })).ok).toBe(true);
    expect(ackResultProblem(nested(MAX_JSON_DEPTH) as Record<string, unknown>)).toContain("nested deeper");
    expect(decodePayload(DecisionAckMessage, JSON.stringify({ ...ack, result: nested(MAX_JSON_DEPTH) })).ok).toBe(false);
  });
});
