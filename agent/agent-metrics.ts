// The agent's metrics for GET /v1/metrics on the local API, in Prometheus
// text format (0.0.4), for a node_exporter-style scrape on the Pi. Every
// metric name the agent exports is here.
//
// Written by hand rather than with prom-client (which the hub uses): a
// compiled Bun binary importing prom-client starts about 16 MB larger
// (measured: 42.6 MB against 26.0 MB VmRSS for a bare binary), a quarter of
// the agent's 60 MB budget, for a dozen lines of text. The format is small
// and fixed: a # HELP and # TYPE line per family, then `name{labels} value`.

/** What the agent says about itself at scrape time (agent.ts builds it). */
export interface AgentMetricsSnapshot {
  /** Verdicts since start by verdict (PASS, HOLD). */
  verdicts: Record<string, number>;
  /** HOLDs since start by reason. */
  holdReasons: Record<string, number>;
  /** Duplicates answered from the journal since start. */
  duplicates: number;
  outboxDepth: number;
  /** Outbox events sent and awaiting the hub's receipt (agent/awaiting-receipts.ts). */
  receipts: { awaiting: number; oldestAgeMs: number; resends: number };
  online: boolean;
  mode: string;
  policyVersion: number;
  journal: { rows: number; bytes: number };
}

export const AGENT_METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;

interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  samples: [Labels, number][];
}

export function renderAgentMetrics(s: AgentMetricsSnapshot, modes: readonly string[]): string {
  const families: Family[] = [
    { name: "edgefed_agent_verdicts_total", type: "counter", help: "Intents judged since the agent started, by verdict", samples: Object.entries(s.verdicts).map(([verdict, n]) => [{ verdict }, n]) },
    { name: "edgefed_agent_hold_reasons_total", type: "counter", help: "HOLD reasons since the agent started (each reason of a HOLD counts)", samples: Object.entries(s.holdReasons).map(([reason, n]) => [{ reason }, n]) },
    { name: "edgefed_agent_duplicate_intents_total", type: "counter", help: "Intents answered from the journal since the agent started (retries of a known id)", samples: [[{}, s.duplicates]] },
    { name: "edgefed_agent_outbox_depth", type: "gauge", help: "Messages waiting in the outbox for the hub", samples: [[{}, s.outboxDepth]] },
    { name: "edgefed_agent_outbox_awaiting_receipt", type: "gauge", help: "Outbox events sent with their outbox id, kept until the hub's receipt (part of the depth)", samples: [[{}, s.receipts.awaiting]] },
    { name: "edgefed_agent_outbox_oldest_awaiting_receipt_seconds", type: "gauge", help: "How long ago the oldest event awaiting a receipt was first sent on this connection (0: none)", samples: [[{}, s.receipts.oldestAgeMs / 1000]] },
    { name: "edgefed_agent_outbox_resends_total", type: "counter", help: "Outbox events sent again since the agent started (no receipt in time, or a new connection)", samples: [[{}, s.receipts.resends]] },
    { name: "edgefed_agent_online", type: "gauge", help: "1 while connected to the hub, 0 in simulation mode", samples: [[{}, s.online ? 1 : 0]] },
    { name: "edgefed_agent_mode", type: "gauge", help: "The kernel's mode in force: 1 for the mode, 0 for the others", samples: modes.map((mode) => [{ mode }, mode === s.mode ? 1 : 0]) },
    { name: "edgefed_agent_policy_version", type: "gauge", help: "Version of the desired policy in force (0: none from the hub yet)", samples: [[{}, s.policyVersion]] },
    { name: "edgefed_agent_journal_rows", type: "gauge", help: "Verdicts kept in the intent journal", samples: [[{}, s.journal.rows]] },
    { name: "edgefed_agent_journal_bytes", type: "gauge", help: "Size of the intent journal's database pages (WAL not counted)", samples: [[{}, s.journal.bytes]] },
  ];
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const [labels, value] of family.samples) lines.push(`${family.name}${labelText(labels)} ${value}`);
  }
  return `${lines.join("\n")}\n`;
}

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",")}}`;
}

/** The exposition format's label escapes: backslash, double quote, newline. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
