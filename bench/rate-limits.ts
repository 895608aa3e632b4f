// `bun run bench rate-limits`: a fleet behind one NAT registering at once (a
// power cut, every Pi booting together) against the default registration
// limit, each node retrying a 429 as the agent does (agent/hub-link.ts:
// jittered backoff from 1 s). Prints how many got in at once and the time
// until all are registered; the limit is the same fleet with the limit off.
// NODES (default 1,100: a tenth past the default burst), IN_FLIGHT (50).
import { backoffMs } from "../lib/backoff.ts";
import { removeTempDirs } from "../test/helpers.ts";
import { newNode, registerBody, startTestHub } from "../test/support/hub-harness.ts";
import { requestFrom } from "../test/support/http-from.ts";
import { printResult, printTable } from "./report.ts";

const NODES = Number(process.env.NODES ?? 1100);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 50);
const NAT_ADDRESS = "127.0.0.3";
const AGENT_RETRY_BASE_MS = 1000;
const AGENT_RETRY_MAX_MS = 30_000;

async function fleetRegisters(env: Record<string, string>): Promise<{ seconds: number; atOnce: number; refusals: number }> {
  const t = await startTestHub({ env });
  const token = t.enrollmentToken({ uses: NODES });
  let atOnce = 0;
  let refusals = 0;
  const registerWithRetries = async (index: number) => {
    const body = registerBody(newNode(`nat-${index}`));
    for (let attempt = 0; ; attempt++) {
      const answer = await requestFrom(NAT_ADDRESS, `${t.hub.httpUrl}/federation/register`, { method: "POST", body, headers: { authorization: `Bearer ${token}` } });
      if (answer.status === 201) return void (attempt === 0 && atOnce++);
      if (answer.status !== 429) throw new Error(`node ${index}: ${answer.status} ${JSON.stringify(answer.body)}`);
      refusals++;
      await Bun.sleep(backoffMs(attempt, AGENT_RETRY_BASE_MS, AGENT_RETRY_MAX_MS));
    }
  };
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < NODES) await registerWithRetries(next++);
  }));
  const seconds = (performance.now() - started) / 1000;
  await t.stop();
  return { seconds, atOnce, refusals };
}

try {
  const limited = await fleetRegisters({});
  const unlimited = await fleetRegisters({ EDGEFED_RATE_REGISTER_BURST: String(10 * NODES) });
  printTable(`rate-limits: ${NODES} nodes behind one address register at once (${IN_FLIGHT} in flight), default EDGEFED_RATE_REGISTER_*`, [
    ["registered at the first attempt", limited.atOnce],
    ["429s answered (each retried after the agent's backoff)", limited.refusals],
    ["seconds until all registered", limited.seconds],
    ["seconds with the limit off (limit)", unlimited.seconds],
  ]);
  printResult({ bench: "rate-limits", value: limited.seconds, unit: "s until all registered", limit: unlimited.seconds, extra: { nodes: NODES, at_once: limited.atOnce, refusals: limited.refusals } });
} finally {
  removeTempDirs();
}
