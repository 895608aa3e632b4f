// A node's allow tables as its birth says them, and the models they allow
// once a policy's thresholds replace some.
import { describe, expect, test } from "bun:test";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { allowTablesOf, MAX_MODELS_PER_TABLE, modelsAllowedUnder } from "./allow-tables.ts";
import { BirthMessage, decodePayload } from "./messages.ts";

const birth = { node_id: "pi-01", version: "0.1.0", arch: "arm64", capabilities: ["kernel"], kernel_config_hash: "sha256:601c52326843c83f", bootId: "b1", session: 1, ts: 1 };
const TABLES = { TREND: ["NHiTS", "PatchTST"], RANGE: ["XGBoost", "LightGBM"], HIGH_VOL: ["XGBoost"], LOW_VOL: ["PatchTST"] };

describe("allow tables", () => {
  test("a gate config's, by regime; null when one is too long for a birth", () => {
    expect(allowTablesOf(DEFAULT_CONFIG)).toEqual(TABLES);
    const many = Array.from({ length: MAX_MODELS_PER_TABLE + 1 }, (_, i) => `m${i}`);
    expect(allowTablesOf({ ...DEFAULT_CONFIG, ALLOWED_MODELS_LOW_VOL: many })).toBeNull();
  });

  test("a policy's thresholds replace whole tables, as on the node", () => {
    expect([...modelsAllowedUnder(TABLES, {})].sort()).toEqual(["LightGBM", "NHiTS", "PatchTST", "XGBoost"]);
    const replaced = modelsAllowedUnder(TABLES, { ALLOWED_MODELS_RANGE: ["Chronos"], MIN_R_TREND: 2 });
    expect([...replaced].sort()).toEqual(["Chronos", "NHiTS", "PatchTST", "XGBoost"]); // LightGBM was only in RANGE
  });

  test("a birth may say them (every regime, model names) or not (an older agent)", () => {
    expect(decodePayload(BirthMessage, JSON.stringify(birth))).toEqual({ ok: true, value: birth as never });
    expect(decodePayload(BirthMessage, JSON.stringify({ ...birth, allowed_models: TABLES }))).toEqual({ ok: true, value: { ...birth, allowed_models: TABLES } as never });
    const { LOW_VOL: _, ...threeRegimes } = TABLES;
    expect(decodePayload(BirthMessage, JSON.stringify({ ...birth, allowed_models: threeRegimes }))).toMatchObject({ ok: false, error: expect.stringMatching(/^allowed_models\.LOW_VOL: /) });
    expect(decodePayload(BirthMessage, JSON.stringify({ ...birth, allowed_models: { ...TABLES, TREND: ["a\nb"] } }))).toMatchObject({
      ok: false,
      error: "allowed_models.TREND.0: a model name",
    });
  });
});
