// brokerAddress: a broker URL as MQTT.js options, read as url.parse() read it
// (which MQTT.js would call, with a DEP0169 warning, if handed the string).
import { describe, expect, test } from "bun:test";
import { brokerAddress } from "./mqtt-url.ts";

describe("brokerAddress", () => {
  test("mqtt and mqtts: protocol, host and port, no path (MQTT.js would take one as a Unix socket)", () => {
    expect(brokerAddress("mqtt://127.0.0.1:1883")).toEqual({ protocol: "mqtt", hostname: "127.0.0.1", host: "127.0.0.1", port: 1883 });
    expect(brokerAddress("mqtts://broker.example:8883/")).toEqual({ protocol: "mqtts", hostname: "broker.example", host: "broker.example", port: 8883 });
  });

  test("no port: MQTT.js picks the protocol's default", () => {
    expect(brokerAddress("mqtt://hub.lan")).toEqual({ protocol: "mqtt", hostname: "hub.lan", host: "hub.lan" });
  });

  test("an IPv6 address without brackets, as url.parse() gave it", () => {
    expect(brokerAddress("mqtt://[::1]:1883")).toMatchObject({ hostname: "::1", port: 1883 });
  });

  test("WebSocket brokers keep their path", () => {
    expect(brokerAddress("wss://hub.example/mqtt")).toEqual({ protocol: "wss", hostname: "hub.example", host: "hub.example", path: "/mqtt" });
  });
});
