// The live updates: one EventSource on /api/stream while signed in, its
// events handed to whichever pages listen. The browser reconnects by itself
// after a dropped connection; when it gives up (the hub answered 401: the
// session expired), the page checks its session and goes to the login.
export interface FleetRow {
  node_id: string;
  health: string;
  health_since: number | null;
  health_cause: string | null;
  capabilities: string[];
  arch: string;
  version: string;
  last_seen: number | null;
  last_heartbeat_at: number | null;
  mode: string | null;
  connectivity: string | null;
  outbox_depth: number | null;
  verdicts_last_hour?: { PASS?: number; HOLD?: number };
  removed?: boolean;
}

export interface DecisionEvent {
  id: string;
  type: string;
  target: string;
  issued_at: number;
  acked: number;
  pending: number;
}

type Listeners = { node: Set<(row: FleetRow) => void>; decision: Set<(event: DecisionEvent) => void>; alert: Set<(alert: unknown) => void> };
const listeners: Listeners = { node: new Set(), decision: new Set(), alert: new Set() };
let source: EventSource | null = null;

/** `onClosed`: the stream ended for good (the browser gives up on a 401: the session expired or was ended). */
export function openStream(onClosed: () => void): void {
  if (source) return;
  source = new EventSource("/api/stream", { withCredentials: true });
  const opened = source;
  opened.addEventListener("error", () => {
    if (opened.readyState === EventSource.CLOSED && source === opened) {
      source = null;
      onClosed();
    }
  });
  for (const name of Object.keys(listeners) as (keyof Listeners)[]) {
    source.addEventListener(name, (event) => {
      let data: unknown;
      try {
        data = JSON.parse((event as MessageEvent<string>).data);
      } catch {
        return;
      }
      for (const listener of listeners[name]) (listener as (value: unknown) => void)(data);
    });
  }
}

export function closeStream(): void {
  source?.close();
  source = null;
}

export function listen<K extends keyof Listeners>(name: K, listener: Listeners[K] extends Set<infer L> ? L : never): () => void {
  const set = listeners[name] as Set<typeof listener>;
  set.add(listener);
  return () => set.delete(listener);
}
