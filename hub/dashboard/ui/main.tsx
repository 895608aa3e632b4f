// The dashboard's entry: resume the session the cookie carries (else the
// login), then the page the hash names (#/fleet, #/nodes/<id>, #/decisions,
// #/federation, #/work, #/work/<id>, #/tokens), with the live stream open while signed in.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { onSignedOut, resumeSession, signOut, type Session } from "./api.ts";
import { useHashRoute } from "./hooks.ts";
import { DecisionsPage } from "./pages/decisions.tsx";
import { FederationPage } from "./pages/federation.tsx";
import { FleetPage } from "./pages/fleet.tsx";
import { LoginPage } from "./pages/login.tsx";
import { NodePage } from "./pages/node.tsx";
import { TokensPage } from "./pages/tokens.tsx";
import { WorkPackagePage } from "./pages/work-package.tsx";
import { WorkPage } from "./pages/work.tsx";
import { closeStream, openStream } from "./stream.ts";

const PAGES = [
  { path: "fleet", title: "Fleet" },
  { path: "decisions", title: "Decisions" },
  { path: "federation", title: "Federation" },
  { path: "work", title: "Work" },
  { path: "tokens", title: "Tokens", adminOnly: true },
];

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const route = useHashRoute();

  useEffect(() => {
    void resumeSession().then(setSession);
    return onSignedOut(() => setSession(null));
  }, []);
  useEffect(() => {
    if (session) openStream(() => void resumeSession().then(setSession));
    else closeStream();
  }, [session]);

  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <LoginPage onSignedIn={setSession} />;

  const [page = "fleet", id] = route;
  const current = page === "nodes" ? "fleet" : page;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">edgefed</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.filter((p) => !p.adminOnly || session.role === "admin").map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={current === p.path ? "page" : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {session.role}
          <button type="button" class="link" onClick={() => void signOut()}>
            Log out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {page === "nodes" && id ? (
          <NodePage nodeId={id} session={session} />
        ) : page === "decisions" ? (
          <DecisionsPage session={session} />
        ) : page === "work" ? (
          id ? <WorkPackagePage id={id} session={session} /> : <WorkPage session={session} />
        ) : page === "federation" ? (
          <FederationPage />
        ) : page === "tokens" ? (
          <TokensPage session={session} />
        ) : (
          <FleetPage />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
