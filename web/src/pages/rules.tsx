// Rules and functions: each rule's event pattern, targets and matches; each
// function's queue, batch size, concurrency, backoff, invocations, errors
// and duration.
import { api, must } from "../api/client";
import { Badge, ErrorNotice, JsonView, Loading, PageTitle } from "../components/ui";
import { useLive } from "../live";
import { num, useAsync } from "../util";

export function Rules() {
  const rules = useAsync(() => must(api.GET("/api/rules")), []);
  const fns = useAsync(() => must(api.GET("/api/functions")), []);
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
      {!fns.data ? (
        <Loading />
      ) : (
        <div class="table-wrap">
          <table aria-label="functions">
            <thead>
              <tr>
                <th>Function</th>
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
              </tr>
            </thead>
            <tbody>
              {fns.data.functions.map((f) => (
                <tr key={f.name}>
                  <td>
                    <strong>{f.name}</strong>
                    <div class="muted small">handler {f.handler}</div>
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
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
