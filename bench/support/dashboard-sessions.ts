// What N open dashboards ask of a hub, without a browser's CPU on the same
// machine skewing the hub's figures: each session logs in, loads the page
// and its assets, the fleet table's first page, holds /api/stream open and,
// as the fleet page does, fetches that page again at most once a second
// after node events and every 15 s. (bench dashboard measures the real page in Chromium.)
// Over HTTPS it trusts the test run's CA (test/support/test-tls.ts), which TLS=1 hubs serve.
import { testFetch } from "../../test/support/test-tls.ts";

export interface DashboardSessions {
  /** Requests made and stream events received, all sessions together. */
  stats(): { requests: number; events: number };
  stop(): Promise<void>;
}

const FLEET_PAGE = "/federation/nodes?sort=node_id&order=asc&limit=50&offset=0";
const REFRESH_MS = 15_000;

export async function openDashboardSessions(url: string, adminToken: string, count: number): Promise<DashboardSessions> {
  const counters = { requests: 0, events: 0 };
  const aborter = new AbortController();
  const timers: ReturnType<typeof setTimeout>[] = [];
  const intervals: ReturnType<typeof setInterval>[] = [];
  const get = async (path: string, cookie: string) => {
    counters.requests++;
    const response = await testFetch(`${url}${path}`, { headers: { cookie, "accept-encoding": "gzip, br" }, signal: aborter.signal });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
    return response;
  };

  const open = async () => {
    const login = await testFetch(`${url}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: adminToken }) });
    if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const html = await (await testFetch(`${url}/`, { headers: { cookie } })).text();
    for (const [, path] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) await get(path!, cookie);
    await get(FLEET_PAGE, cookie);
    intervals.push(setInterval(() => void get(FLEET_PAGE, cookie).catch(() => {}), REFRESH_MS));

    const stream = await testFetch(`${url}/api/stream`, { headers: { cookie, accept: "text/event-stream" }, signal: aborter.signal });
    if (!stream.ok || !stream.body) throw new Error(`stream: ${stream.status}`);
    let refetch: ReturnType<typeof setTimeout> | null = null;
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of stream.body!) {
          const events = decoder.decode(chunk, { stream: true }).match(/^event: node$/gm)?.length ?? 0;
          counters.events += events;
          if (events && !refetch) {
            refetch = setTimeout(() => {
              refetch = null;
              void get(FLEET_PAGE, cookie).catch(() => {});
            }, 1000);
            timers.push(refetch);
          }
        }
      } catch {
        // aborted at stop()
      }
    })();
  };

  await Promise.all(Array.from({ length: count }, open));
  return {
    stats: () => ({ ...counters }),
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      for (const interval of intervals) clearInterval(interval);
      aborter.abort();
    },
  };
}
