// Tests for a live stream's client queue (stream-client.ts): events written
// in order, a client that stops reading dropped at the bound without holding
// the pump, and closing ends it.
import { describe, expect, test } from "bun:test";
import { StreamClient } from "./stream-client.ts";

describe("StreamClient", () => {
  test("writes what is pushed, in order, as the writer takes it", async () => {
    const client = new StreamClient<number>(10);
    const written: number[] = [];
    const pumping = client.pump(async (n) => {
      written.push(n);
      if (n === 3) client.close("done");
    });
    for (const n of [1, 2, 3, 4]) client.push(n);
    expect(await pumping).toBe("done");
    expect(written).toEqual([1, 2, 3]);
  });

  test("a client whose writes never finish is dropped once the bound is passed, and the pump returns", async () => {
    const client = new StreamClient<number>(5);
    const stuck = client.pump(() => new Promise(() => {})); // a connection that never drains
    for (let n = 0; n < 7; n++) client.push(n); // five queued, the sixth is one too many
    expect(await stuck).toBe("more than 5 events behind");
    expect(client.closedBecause).toBe("more than 5 events behind");
    client.push(99); // ignored once closed
  });

  test("closing an idle client ends its pump", async () => {
    const client = new StreamClient<number>(5);
    const idle = client.pump(async () => {});
    client.close("the client went away");
    client.close("again"); // the first reason stays
    expect(await idle).toBe("the client went away");
  });
});
