// What the work submit form starts from for each built-in kind (agent/
// work-kinds.ts): a payload the kind runs, and a line naming its fields.
// The hub checks the rest of the submit (POST /api/federation/work) and the
// form shows its error.
export const WORK_EXAMPLES: Record<string, { payload: Record<string, unknown>; fields: string }> = {
  diagnostics: { payload: {}, fields: "nothing: status, recent log lines, SQLite integrity, disk space, clock offset come back" },
  "gate.replay": {
    payload: { from: 0, to: 0, config: { MIN_R_TREND: 3.5 } },
    fields: "from, to (ms since the epoch; the form fills the last 24 h when both are 0), config? (gate variables), policy? (a policy update)",
  },
  research: { payload: { task_type: "journal_stats", description: "verdicts of the last hour", params: { window_minutes: 60 } }, fields: "task_type (echo, journal_stats, config_hash), description, params?" },
};

export const WORK_STATES = ["queued", "leased", "running", "succeeded", "failed", "expired", "cancelled"];
export const FINISHED_STATES = ["succeeded", "failed", "expired", "cancelled"];
