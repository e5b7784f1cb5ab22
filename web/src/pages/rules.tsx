// Rules and functions: each rule's event pattern, targets and matches; each
// function's queue, state, batch size, concurrency, backoff, invocations,
// errors and duration - and, for operators, Pause / Resume / Drain (issue 14).
import { useState } from "preact/hooks";
import { api, must } from "../api/client";
import { can } from "../auth";
import { Badge, ErrorNotice, JsonView, Loading, PageTitle } from "../components/ui";
import { useLive } from "../live";
import { num, useAsync } from "../util";

export function Rules() {
  const rules = useAsync(() => must(api.GET("/api/rules")), []);
  const fns = useAsync(() => must(api.GET("/api/functions")), []);
  const [busy, setBusy] = useState("");
  const [msg, setMsg] = useState<{ kind: "ok" | "bad"; text: string } | null>(null);
  const control = can("functions:control");

  async function act(name: string, action: "pause" | "resume" | "drain") {
    setBusy(name);
    setMsg(null);
    try {
      const params = { params: { path: { name } } };
      if (action === "drain") {
        const r = await must(api.POST("/api/functions/{name}/drain", params));
        setMsg({ kind: "ok", text: `Drained ${name}: processed ${r.processed}, failed ${r.failed}, total ${r.total}.` });
      } else {
        const r = await must(
          action === "pause"
            ? api.POST("/api/functions/{name}/pause", params)
            : api.POST("/api/functions/{name}/resume", params),
        );
        setMsg({ kind: "ok", text: `${name} is ${r.state}.` });
      }
      fns.reload();
    } catch (e) {
      setMsg({ kind: "bad", text: `${action} ${name}: ${(e as Error).message}` });
    } finally {
      setBusy("");
    }
  }
  useLive((kind) => {
    if (kind === "metrics" || kind === "poll") {
      rules.reload();
      fns.reload();
    }
  });
  return (
    <div>
      <PageTitle>Rules & functions</PageTitle>
      <h2>Rules</h2>
      <ErrorNotice error={rules.error} />
      {!rules.data ? (
        <Loading />
      ) : (
        <div class="table-wrap">
          <table aria-label="rules">
            <thead>
              <tr>
                <th>Rule</th>
                <th>State</th>
                <th>Event pattern</th>
                <th>Targets</th>
                <th class="num">Matched</th>
              </tr>
            </thead>
            <tbody>
              {rules.data.rules.map((r) => (
                <tr key={r.name}>
                  <td>
                    <strong>{r.name}</strong>
                    {r.description && <div class="muted small">{r.description}</div>}
                  </td>
                  <td>
                    <Badge value={r.state === "ENABLED" ? "OK" : "CANCELLED"} title={r.state} /> <span class="small">{r.state}</span>
                  </td>
                  <td>
                    <JsonView value={r.eventPattern} />
                  </td>
                  <td>
                    {r.targets.map((t) => (
                      <div key={t.queue}>
                        <a href={"/queues/" + encodeURIComponent(t.queue)}>{t.queue}</a>
                      </div>
                    ))}
                  </td>
                  <td class="num">{num(r.matched)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Functions</h2>
      <ErrorNotice error={fns.error} />
      {msg && (
        <p role="status" class={msg.kind === "ok" ? "notice ok" : "notice bad"}>
          {msg.text}
        </p>
      )}
      {!fns.data ? (
        <Loading />
      ) : (
        <div class="table-wrap">
          <table aria-label="functions">
            <thead>
              <tr>
                <th>Function</th>
                <th>State</th>
                <th>Queue</th>
                <th class="num">Batch</th>
                <th class="num">Concurrency</th>
                <th>Backoff</th>
                <th class="num">Invocations</th>
                <th class="num">Records</th>
                <th class="num">Errors</th>
                <th class="num">Duplicates</th>
                <th class="num">Avg duration</th>
                <th>Pollers</th>
                {control && <th>Control</th>}
              </tr>
            </thead>
            <tbody>
              {fns.data.functions.map((f) => (
                <tr key={f.name} data-function={f.name}>
                  <td>
                    <strong>{f.name}</strong>
                    <div class="muted small">handler {f.handler}</div>
                    {f.lastError && <div class="muted small">last error: {f.lastError}</div>}
                  </td>
                  <td data-col="state">
                    <span class={"badge " + (f.state === "enabled" ? "b-ok" : f.state === "paused" ? "b-warn" : "b-muted")}>
                      {f.state}
                    </span>
                    {f.inFlight > 0 && <div class="muted small">{f.inFlight} in flight</div>}
                  </td>
                  <td>
                    <a href={"/queues/" + encodeURIComponent(f.queue)}>{f.queue}</a>
                  </td>
                  <td class="num">{f.batchSize}</td>
                  <td class="num">{f.maxConcurrency}</td>
                  <td class="small nowrap">
                    {f.backoff.baseMs} ms … {f.backoff.maxMs} ms
                  </td>
                  <td class="num">{num(f.stats.invocations)}</td>
                  <td class="num">{num(f.stats.records)}</td>
                  <td class="num">{f.stats.errors ? <span class="badge b-bad">{num(f.stats.errors)}</span> : "0"}</td>
                  <td class="num">{num(f.stats.duplicates)}</td>
                  <td class="num">{num(f.stats.averageDurationMs, 2)} ms</td>
                  <td>
                    <Badge value={f.enabled ? (f.stats.pollersRunning === f.stats.pollers ? "OK" : "FAILED") : "CANCELLED"} />{" "}
                    <span class="small">
                      {f.enabled ? `${f.stats.pollersRunning}/${f.stats.pollers}` : "disabled"}
                    </span>
                  </td>
                  {control && (
                    <td class="nowrap">
                      {f.paused ? (
                        <button type="button" disabled={!!busy} aria-label={"Resume " + f.name} onClick={() => act(f.name, "resume")}>
                          Resume
                        </button>
                      ) : (
                        <button type="button" disabled={!!busy} aria-label={"Pause " + f.name} onClick={() => act(f.name, "pause")}>
                          Pause
                        </button>
                      )}{" "}
                      <button type="button" disabled={!!busy} aria-label={"Drain " + f.name} onClick={() => act(f.name, "drain")}>
                        Drain
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
