// What mosquitto-dynsec.ts cannot use in Mosquitto 2.0.11 (Debian 12's, a
// real broker): `%c` (client id) and `%u` (username) in dynamic-security ACL
// topics. They are plain characters there, compared literally: a role
// allowing `probe/%c/out` lets client `p-1` publish on the topic
// `probe/%c/out` itself and not on `probe/p-1/out`. The substitution came
// with the plugin's commits 0cd26194 ("Add %c and %u support to dynsec
// publish ACLs") and 192a092d (subscribe/unsubscribe patterns), both in the
// 2.1 ChangeLog on Mosquitto's develop branch, in no 2.0.x release: the v2.0.x
// acl.c calls mosquitto_topic_matches_sub() without the client's id.
//
// So every node keeps a role of its own (mosquitto-dynsec.ts). If this test
// fails, the broker substitutes the patterns: one shared node role with
// `%c` topics would then do, and a grant would need no role of its own.
import { afterAll, beforeAll, expect, test } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import { removeTempDirs } from "../../test/helpers.ts";
import { startMosquitto, type RunningMosquitto } from "../../test/support/mosquitto.ts";
import { dynsecCommand, expectDropped, subackCodes } from "./mosquitto-dynsec-test-kit.ts";

let broker: RunningMosquitto;
let admin: { username: string; password: string };
let watcher: MqttClient;
const seen: { topic: string; payload: string }[] = [];

beforeAll(async () => {
  broker = await startMosquitto({ dynsec: true });
  admin = broker.admin!;
  watcher = await mqtt.connectAsync(broker.url, { ...admin, ca: broker.ca!, clientId: "test-watcher", reconnectPeriod: 0 });
  watcher.on("message", (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  await watcher.subscribeAsync("probe/#", { qos: 1 });
});

afterAll(async () => {
  await watcher?.endAsync(true);
  await broker?.stop();
  removeTempDirs();
});

test("Mosquitto 2.0.11 dynsec ACLs take %c and %u literally: no client id or username is substituted", async () => {
  const acls = [
    { acltype: "publishClientSend", topic: "probe/%c/out", allow: true },
    { acltype: "publishClientSend", topic: "probe/%u/out", allow: true },
    { acltype: "subscribePattern", topic: "probe/%c/in", allow: true },
    { acltype: "subscribePattern", topic: "probe/%u/in", allow: true },
    { acltype: "publishClientReceive", topic: "probe/#", allow: true },
  ];
  // The broker takes the ACLs as they are: no error, nothing rewritten.
  expect((await dynsecCommand(broker, admin, { command: "createRole", rolename: "probe-pattern", acls })).error).toBeUndefined();
  expect((await dynsecCommand(broker, admin, { command: "createClient", username: "p-1", password: "pw-p-1", clientid: "p-1", roles: [{ rolename: "probe-pattern" }] })).error).toBeUndefined();
  const role = (await dynsecCommand(broker, admin, { command: "getRole", rolename: "probe-pattern" })).data as { role: { acls: { topic: string }[] } };
  expect(role.role.acls.map((acl) => acl.topic).sort()).toEqual(acls.map((acl) => acl.topic).sort());

  const node = await mqtt.connectAsync(broker.url, { username: "p-1", password: "pw-p-1", clientId: "p-1", ca: broker.ca!, reconnectPeriod: 0 });
  try {
    // The fence is the literal topic the ACL names: it passes, the substituted one does not.
    await expectDropped(node, "probe/p-1/out", "probe/%c/out", seen);
    await expectDropped(node, "probe/p-1/out", "probe/%u/out", seen);
    expect(await subackCodes(node, "probe/p-1/in")).toEqual([128]);
    expect(await subackCodes(node, "probe/%c/in")).toEqual([1]);
    expect(await subackCodes(node, "probe/%u/in")).toEqual([1]);
  } finally {
    await node.endAsync(true);
  }
});
