// The alert webhook URL (webhook-url.ts): only http(s) taken, a bad one
// refused without repeating it, and logged as its origin only.
import { expect, test } from "bun:test";
import { redactedUrl, webhookUrl } from "./webhook-url.ts";

test("http and https URLs are taken, empty means none; anything else is refused without repeating it", () => {
  expect(webhookUrl("")).toEqual({ value: "" });
  expect(webhookUrl("https://hooks.example/T0/secret")).toEqual({ value: "https://hooks.example/T0/secret" });
  expect(webhookUrl("http://127.0.0.1:9000/")).toEqual({ value: "http://127.0.0.1:9000/" });
  for (const bad of ["hooks.example/secret", "ftp://hooks.example/secret", "https://hooks.example/se cret", "mailto:secret@example"]) {
    const checked = webhookUrl(bad);
    expect(checked).toEqual({ problem: "is not an http:// or https:// URL" });
  }
});

test("logged as scheme, host and port, whatever follows hidden", () => {
  expect(redactedUrl("https://hooks.slack.com/services/T000/B000/XXXXSECRET")).toBe("https://hooks.slack.com/…");
  expect(redactedUrl("http://127.0.0.1:9000/?token=SECRET")).toBe("http://127.0.0.1:9000/…");
  expect(redactedUrl("https://user:SECRET@ntfy.example/")).toBe("https://ntfy.example/…");
  expect(redactedUrl("https://alerts.example")).toBe("https://alerts.example");
});
