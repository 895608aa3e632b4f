// The shared HTTP error convention on a real Hono app: what jsonBody refuses,
// the body limit, and the one error handler (known errors keep their status,
// anything else is a 500 that logs its cause and does not show it).
import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { errorHandler, HttpError, jsonBody, limitBody, routeNotFound } from "./http-errors.ts";
import { MAX_JSON_DEPTH } from "./json-depth.ts";

class Teapot extends Error {}

function app(log: string[]): Hono {
  const top = new Hono();
  top.use("*", limitBody(256));
  top.onError(errorHandler("test server", (line) => log.push(line), (error) => (error instanceof Teapot ? new HttpError(418, "teapot", error.message) : null)));
  top.notFound(routeNotFound);
  top.post("/echo", async (c) => c.json({ got: await jsonBody(c) }));
  top.get("/teapot", () => {
    throw new Teapot("short and stout");
  });
  top.get("/bug", () => {
    throw new Error("secret internals");
  });
  return top;
}

const post = (body: string, type = "application/json") => new Request("http://local/echo", { method: "POST", body, headers: { "content-type": type } });

describe("http errors", () => {
  test("jsonBody reads JSON and refuses what is not declared JSON, too deep or malformed", async () => {
    const log: string[] = [];
    const cases: [Request, number, string][] = [
      [post('{"a":1}'), 200, ""],
      [post('{"a":1}', "text/plain"), 415, "unsupported_media_type"],
      [post("[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1)), 400, "json_too_deep"],
      [post("{nope"), 400, "invalid_json"],
      [post(JSON.stringify({ a: "x".repeat(300) })), 413, "payload_too_large"],
    ];
    for (const [request, status, error] of cases) {
      const response = await app(log).request(request);
      expect(response.status).toBe(status);
      const body = (await response.json()) as { error?: string; detail?: string; got?: unknown };
      if (status === 200) expect(body.got).toEqual({ a: 1 });
      else expect(body).toEqual({ error, detail: expect.any(String) });
    }
    expect(log).toEqual([]);
  });

  test("errors the app knows keep their status; anything else is a 500 naming no cause, logged", async () => {
    const log: string[] = [];
    const teapot = await app(log).request("/teapot");
    expect([teapot.status, await teapot.json()]).toEqual([418, { error: "teapot", detail: "short and stout" }]);
    const bug = await app(log).request("/bug");
    expect(bug.status).toBe(500);
    const body = (await bug.json()) as { error: string; detail: string };
    expect(body).toEqual({ error: "internal_error", detail: "the test server failed to handle this request; see its log" });
    expect(log).toEqual(["internal error on GET /bug: secret internals"]);
    const missing = await app(log).request("/nowhere");
    expect([missing.status, await missing.json()]).toEqual([404, { error: "not_found", detail: "no route GET /nowhere" }]);
  });
});
