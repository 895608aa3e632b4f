// One HTTP request of the tests to a hub's JSON API: a body is sent as JSON
// (a string as it is, so a test can send what is not JSON), the answer's body
// parsed when it is JSON and kept as text otherwise.
export type TestFetch = (url: string, init: RequestInit) => Promise<Response>;

export async function jsonRequest(
  fetchFn: TestFetch,
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetchFn(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: response.status, body: parsed, headers: response.headers };
}
