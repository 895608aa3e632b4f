// What the tests of Mosquitto's dynamic security share: one raw dynsec
// command on a throwaway admin connection, the SUBACK codes of a subscribe,
// and the fence that shows an unauthorised PUBLISH never arrives (MQTT 3.1.1
// brokers drop it silently, with a PUBACK all the same).
import { expect } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import { subackCodes as codesOf } from "../../lib/suback.ts";
import { eventually } from "../../test/support/hub-harness.ts";

const WAIT_MS = 3_000;
/** How long a forbidden message gets to show up after its fence before it counts as dropped. */
const QUIET_MS = 300;

export type DynsecAnswer = { command?: string; error?: string; data?: unknown; correlationData?: string };

/** Sends one dynamic-security command on a throwaway admin connection and returns its answer. */
export async function dynsecCommand(
  broker: { url: string; ca: string | null },
  admin: { username: string; password: string },
  command: Record<string, unknown>,
): Promise<DynsecAnswer> {
  return (await dynsecCommands(broker, admin, [command]))[0]!;
}

/** Sends several dynamic-security commands in one control message and returns their answers, in order. */
export async function dynsecCommands(
  broker: { url: string; ca: string | null },
  admin: { username: string; password: string },
  commands: Record<string, unknown>[],
): Promise<DynsecAnswer[]> {
  const client = await mqtt.connectAsync(broker.url, { ...admin, ca: broker.ca ?? undefined, clientId: `test-dynsec-${crypto.randomUUID()}`, reconnectPeriod: 0 });
  try {
    const tagged = commands.map((command) => ({ ...command, correlationData: crypto.randomUUID() }));
    const answers = new Map<string, DynsecAnswer>();
    client.on("message", (_topic, payload) => {
      for (const answer of (JSON.parse(payload.toString()) as { responses: DynsecAnswer[] }).responses) answers.set(String(answer.correlationData), answer);
    });
    await client.subscribeAsync("$CONTROL/dynamic-security/v1/response", { qos: 1 });
    await client.publishAsync("$CONTROL/dynamic-security/v1", JSON.stringify({ commands: tagged }), { qos: 1 });
    const what = `the answers to ${commands.map((command) => String(command.command)).join(", ")}`;
    return await eventually(() => tagged.every((command) => answers.has(command.correlationData)) && tagged.map((command) => answers.get(command.correlationData)!), WAIT_MS, what);
  } finally {
    await client.endAsync(true);
  }
}

/**
 * Publishes on a forbidden topic, then on a permitted fence topic: the
 * watcher's `seen` gets the fence and never the forbidden message.
 */
export async function expectDropped(client: MqttClient, topic: string, fenceTopic: string, seen: { payload: string }[]): Promise<void> {
  const marker = `forbidden-${crypto.randomUUID()}`;
  const fence = `fence-${crypto.randomUUID()}`;
  await client.publishAsync(topic, marker, { qos: 1 }); // 3.1.1: PUBACK even when refused
  await client.publishAsync(fenceTopic, fence, { qos: 1 });
  await eventually(() => seen.some((m) => m.payload === fence), WAIT_MS, `the fence on ${fenceTopic}`);
  await Bun.sleep(QUIET_MS);
  expect(seen.filter((m) => m.payload === marker)).toEqual([]);
}

/** SUBACK return codes for a subscribe to one filter. */
export const subackCodes = (client: MqttClient, filter: string): Promise<number[]> => codesOf(client, [filter]);
