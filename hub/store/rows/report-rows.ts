// A strategy report's row (node_reports: the same columns in SQLite and
// PostgreSQL) and the stored report it holds, for both backends
// (hub/store/sqlite/report-table.ts, hub/store/postgres/report-table.ts).
import type { Report, ReportKind } from "../../../protocol/reports.ts";
import type { StoredReport } from "../hub-store.ts";

export interface ReportRow {
  seq: number;
  node_id: string;
  kind: ReportKind;
  report: string;
  received_at: number;
}

export function storedReportOf(row: ReportRow): StoredReport {
  return { seq: row.seq, nodeId: row.node_id, kind: row.kind, report: JSON.parse(row.report) as Report, receivedAt: row.received_at };
}
