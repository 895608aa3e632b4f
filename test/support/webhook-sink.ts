// A local HTTP sink for the hub's alert webhook (Bun.serve on 127.0.0.1, a
// free port): it records every request it gets and answers each with the
// next status scripted (then 200), or with `always` while that is set;
// NO_ANSWER scripted answers nothing until the client gives up.
import type { WebhookPost } from "../../hub/alerting/webhook-sender.ts";

export interface SinkRequest {
  status: number;
  path: string;
  headers: Record<string, string>;
  post: WebhookPost;
}

export interface WebhookSink {
  /** Its URL, with a secret-looking path as a real webhook's has. */
  url: string;
  requests: SinkRequest[];
  /** The posts it accepted (answered 2xx), in the order received. */
  delivered(): WebhookPost[];
  /** Statuses to answer with, next first; 200 when empty. */
  script: number[];
  /** When set, every request gets this status (the script waits). */
  always: number | null;
  /** Each answer waits this long first (ms): a post in flight for a while. */
  delayMs: number;
  stop(): Promise<void>;
}

export const SINK_SECRET = "s3cret-sink-token";
/** Scripted: no answer at all (recorded with this status). */
export const NO_ANSWER = 0;

export function startWebhookSink(): WebhookSink {
  const sink: WebhookSink = {
    url: "",
    requests: [],
    delivered: () => sink.requests.filter((r) => r.status !== NO_ANSWER && r.status < 300).map((r) => r.post),
    script: [],
    always: null,
    delayMs: 0,
    stop: async () => void (await server.stop(true)),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const status = sink.always ?? sink.script.shift() ?? 200;
      sink.requests.push({ status, path: new URL(request.url).pathname, headers: Object.fromEntries(request.headers), post: (await request.json()) as WebhookPost });
      if (sink.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, sink.delayMs));
      if (status === NO_ANSWER) {
        await new Promise((resolve) => request.signal.addEventListener("abort", resolve));
        return new Response(null, { status: 504 });
      }
      return new Response(status < 300 ? "ok" : "no", { status });
    },
  });
  sink.url = `http://127.0.0.1:${server.port}/hooks/${SINK_SECRET}`;
  return sink;
}
