// Tests for the one error handler (error-handler.ts) behind a real Hono app
// with a mounted route module: each domain error kind answers with its
// status as `{error, detail}`, the HTTP layer's own errors keep theirs, and
// anything else is a 500 that names no cause to the client but logs it.
import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { DOMAIN_ERROR_KINDS, DomainError, type DomainErrorKind } from "../errors.ts";
import { HttpError, routeNotFound } from "../../lib/http-errors.ts";
import { hubErrorHandler } from "./error-handler.ts";

const EXPECTED_STATUS: Record<DomainErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  unavailable: 503,
};

function app(log: string[]): Hono {
  const routes = new Hono();
  routes.get("/domain/:kind", (c) => {
    throw new DomainError(c.req.param("kind") as DomainErrorKind, `some_${c.req.param("kind")}`, "what happened");
  });
  routes.get("/http", () => {
    throw new HttpError(415, "unsupported_media_type", "send JSON");
  });
  routes.get("/bug", async () => {
    throw new Error("secret internals");
  });
  const top = new Hono();
  top.onError(hubErrorHandler((line) => log.push(line)));
  top.notFound(routeNotFound);
  top.route("/mounted", routes);
  return top;
}

describe("hubErrorHandler", () => {
  test("every domain error kind answers with its status, thrown in a mounted route module", async () => {
    const hub = app([]);
    for (const kind of DOMAIN_ERROR_KINDS) {
      const response = await hub.request(`/mounted/domain/${kind}`);
      expect(response.status).toBe(EXPECTED_STATUS[kind]);
      expect(await response.json()).toEqual({ error: `some_${kind}`, detail: "what happened" });
    }
  });

  test("the HTTP layer's own errors keep their status", async () => {
    const response = await app([]).request("/mounted/http");
    expect(response.status).toBe(415);
    expect(await response.json()).toEqual({ error: "unsupported_media_type", detail: "send JSON" });
  });

  test("anything else is a 500 that tells the log, not the client, what broke", async () => {
    const log: string[] = [];
    const response = await app(log).request("/mounted/bug");
    expect(response.status).toBe(500);
    const body = await response.json();
    expect(body).toEqual({ error: "internal_error", detail: "the hub failed to handle this request; see its log" });
    expect(log).toEqual(["internal error on GET /mounted/bug: secret internals"]);
  });

  test("a route that does not exist is a 404 naming it", async () => {
    const response = await app([]).request("/mounted/nothing", { method: "POST" });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: "not_found", detail: "no route POST /mounted/nothing" });
  });
});
