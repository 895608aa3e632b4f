// The SUBACK return code of each filter of one SUBSCRIBE. MQTT.js rejects
// the whole subscribe when any code is a failure (0x80 and up), carrying the
// SUBACK along; a caller that can do without some filters needs the codes.
import type { MqttClient } from "mqtt";

/** Subscribes to `filters` at `qos` in one SUBSCRIBE; the broker's code for each, in order (0x80 and up: refused). */
export async function subackCodes(client: MqttClient, filters: readonly string[], qos: 0 | 1 = 1): Promise<number[]> {
  try {
    return (await client.subscribeAsync([...filters], { qos })).map((grant) => grant.qos);
  } catch (error) {
    const granted = (error as { packet?: { granted?: unknown } }).packet?.granted;
    if (!Array.isArray(granted)) throw error;
    return granted.map(Number);
  }
}

/** Whether a SUBACK code says the subscription was refused. */
export const refusedCode = (code: number): boolean => (code & 0x80) !== 0;
