// What a node publishes, as JSON payloads for tests that speak MQTT as a node
// does (heartbeat, birth, verdict event), each with fields a test may override.
export const heartbeat = (seq: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    seq,
    ts: Date.now(),
    uptime_s: 12.5,
    load: [0.25, 0.2, 0.1],
    rss_bytes: 48_000_000,
    mode: "LIVE",
    connectivity: "online",
    simulated: false,
    outbox_depth: 0,
    kernel: { evaluated: 10, passed: 6, held: 4, duplicates: 0, recovered: 0 },
    ...extra,
  });

export const birth = (nodeId: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    node_id: nodeId,
    version: "0.1.0",
    arch: "arm64",
    capabilities: ["kernel", "sim"],
    kernel_config_hash: "sha256:601c52326843c83f",
    bootId: "boot-1",
    session: 1,
    ts: Date.now(),
    ...extra,
  });

export const verdictEvent = (seq: number, verdict: "PASS" | "HOLD", reasons: string[]) =>
  JSON.stringify({
    seq,
    ts: Date.now(),
    simulated: false,
    symbol: "BTCUSDT",
    verdict: { id: `i-${seq}`, verdict, reasons, enforced: true, mode: "LIVE", metrics: { notional: 100, friction_usd: 0.2, required_edge_usd: 0.6, r_ratio: 2.5 } },
  });
