// The three reports a strategy process makes about itself, through its
// agent's local API (POST /v1/portfolio, /v1/health, /v1/models), which the
// agent forwards to the hub on the node topic of the same name: its portfolio
// (every few seconds), its system health, and each model's performance (after
// trades or daily). Agent and hub keep the latest of each and a bounded
// history; the bounds are here because both sides and the agent's outbox
// follow them.
import { ModelPerformanceMessage, PortfolioMessage, SystemHealthMessage } from "./messages.ts";

export const REPORT_KINDS = ["portfolio", "health", "models"] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export interface ReportOf {
  portfolio: PortfolioMessage;
  health: SystemHealthMessage;
  models: ModelPerformanceMessage;
}
export type Report = ReportOf[ReportKind];

/** Each kind's schema (messages.ts), the one its topic has too. */
export const REPORT_SCHEMAS = { portfolio: PortfolioMessage, health: SystemHealthMessage, models: ModelPerformanceMessage } as const;

/**
 * Reports kept per node and series, newest first, by the agent's store and
 * the hub's: a series is a kind, and for model reports each model is one.
 * 1,000 portfolio snapshots are 80 minutes at one every 5 s, about 300 KB
 * of JSON; health is reported as often at most. A model reports after trades
 * or daily: 100 are months of daily reports. The outbox queues no more of a
 * series than the hub keeps (topics.ts), since the hub would delete the
 * older ones on arrival.
 */
export const REPORT_HISTORY: Readonly<Record<ReportKind, number>> = { portfolio: 1000, health: 1000, models: 100 };

/**
 * Distinct models a node may report. A model name is chosen by the node, so
 * without a cap a node making names up would grow the agent's and the hub's
 * store (100 reports each) without bound.
 */
export const MAX_MODELS_PER_NODE = 100;

/** The series a report belongs to: its model for a model report, "" (the one series) otherwise. */
export function reportSeries<K extends ReportKind>(kind: K, report: ReportOf[K]): string {
  return kind === "models" ? (report as ModelPerformanceMessage).model_name : "";
}
