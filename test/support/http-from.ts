// An HTTP request from a chosen loopback source address (127.0.0.2, ...):
// Linux answers on all of 127/8, so a test can be two clients on one machine,
// as the hub's per-address rate limits see them.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { trustedTestCas } from "./test-tls.ts";

export interface AnswerFrom {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

export function requestFrom(
  localAddress: string,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<AnswerFrom> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers = { ...(payload === undefined ? {} : { "content-type": "application/json" }), ...options.headers };
  return new Promise((resolve, reject) => {
    // Over HTTPS, trusting the test run's CAs only (test-tls.ts).
    const https = url.startsWith("https:");
    const request = https ? httpsRequest : httpRequest;
    const sent = request(url, { method: options.method ?? "GET", headers, localAddress, ...(https ? { ca: trustedTestCas() } : {}) }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {}
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
      });
      response.on("error", reject);
    });
    sent.on("error", reject);
    sent.end(payload);
  });
}
