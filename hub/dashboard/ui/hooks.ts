// Small hooks the pages share: the hash route, a clock that ticks each
// second (heartbeat ages count up without a fetch), and loading an API
// resource with its error.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "./api.ts";

export function useHashRoute(): string[] {
  const parts = () => decodeURIComponent(location.hash.replace(/^#\/?/, "")).split("/").filter(Boolean);
  const [route, setRoute] = useState(parts);
  useEffect(() => {
    const changed = () => setRoute(parts());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  reload(): void;
}

/** GETs `path` (again when it or `version` changes); null path: nothing yet. */
export function useApi<T>(path: string | null, version = 0): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  const [reloads, setReloads] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    api<T>("GET", path).then(
      (data) => live && setState({ data, error: null }),
      (error: ApiError) => live && setState((s) => ({ data: s.data, error: error.message })),
    );
    return () => {
      live = false;
    };
  }, [path, version, reloads]);
  return { ...state, reload: () => setReloads((n) => n + 1) };
}
