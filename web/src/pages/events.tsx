// Events: the archive (event log) searched by time window, source,
// detail-type and order id, newest first; replay a window through the rules
// after a confirmation, with the counts it reports.
import { useState } from "preact/hooks";
import { api, followTask, must, type LoggedEvent } from "../api/client";
import { can } from "../auth";
import { Confirm, ErrorNotice, Field, JsonView, Loading, Notice, PageTitle } from "../components/ui";
import { dateTime, useAsync } from "../util";

interface Query {
  from: string;
  to: string;
  source: string;
  detailType: string;
  orderId: string;
}

/** datetime-local value (local time) -> RFC 3339, or "" */
function toIso(v: string): string {
  if (!v) return "";
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function Events() {
  const [form, setForm] = useState<Query>({ from: "", to: "", source: "", detailType: "", orderId: "" });
  const [q, setQ] = useState<Query>(form);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const res = useAsync(
    () =>
      must(
        api.GET("/api/events", {
          params: {
            query: {
              from: toIso(q.from) || undefined,
              to: toIso(q.to) || undefined,
              source: q.source || undefined,
              detailType: q.detailType || undefined,
              orderId: q.orderId || undefined,
              limit: 50,
              cursor,
            },
          },
        }),
      ),
    [q, cursor],
  );
  const [replay, setReplay] = useState(false);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ kind: "ok" | "bad"; text: string } | null>(null);
  const [win, setWin] = useState({ from: localInput(new Date(Date.now() - 3600e3)), to: localInput(new Date()), rule: "" });
  const rules = useAsync(() => must(api.GET("/api/rules")), []);

  function search(e: Event) {
    e.preventDefault();
    setCursors([undefined]);
    setQ({ ...form });
  }

  async function doReplay() {
    setBusy(true);
    setMsg(null);
    try {
      const r = await must(
        api.POST("/api/events/replay", {
          body: { from: toIso(win.from), to: toIso(win.to), ...(win.rule ? { rule: win.rule } : {}) },
        }),
      );
      // a background task: followed here, with its progress
      const t = await followTask(r.id, (p) =>
        setMsg({ kind: "ok", text: `Replay ${p.replayName}: ${p.eventsReplayed ?? 0} of ${p.eventsInWindow ?? 0} events…` }),
      );
      if (t.state !== "COMPLETED") throw new Error(`the replay is ${t.state}${t.error ? ": " + t.error : ""}`);
      const n = t.eventsReplayed ?? 0,
        routed = t.deliveries ?? 0;
      setMsg({
        kind: "ok",
        text: `Replay ${t.replayName}: ${n} event${n === 1 ? "" : "s"} re-published, ${routed} message${
          routed === 1 ? "" : "s"
        } routed.`,
      });
      res.reload();
    } catch (e) {
      setMsg({ kind: "bad", text: "Replay failed: " + (e as Error).message });
    } finally {
      setBusy(false);
      setReplay(false);
    }
  }

  const text = (k: keyof Query, label: string, type = "text") => (
    <Field label={label}>
      {(id) => <input id={id} type={type as "text"} value={form[k]} onInput={(e) => setForm({ ...form, [k]: e.currentTarget.value })} />}
    </Field>
  );
  return (
    <div>
      <PageTitle>Events</PageTitle>
      {msg && <Notice kind={msg.kind}>{msg.text}</Notice>}
      <form class="panel row" onSubmit={search} role="search" aria-label="search the archive">
        {text("from", "From", "datetime-local")}
        {text("to", "To", "datetime-local")}
        {text("source", "Source")}
        {text("detailType", "Detail type")}
        {text("orderId", "Order id")}
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      {can("events:replay") && (
        <section class="panel" aria-labelledby="replay-h">
          <h2 id="replay-h" style="margin-top:0">
            Replay a window
          </h2>
          <p class="muted small">
            Re-publishes the archived events of [from, to) through the rules, keeping their ids: functions skip what they already
            applied, so only what was lost is processed again.
          </p>
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              if (!toIso(win.from) || !toIso(win.to) || toIso(win.from) >= toIso(win.to))
                return setMsg({ kind: "bad", text: "The window needs a from before its to." });
              setReplay(true);
            }}
          >
            <Field label="Replay from">
              {(id) => <input id={id} type="datetime-local" value={win.from} onInput={(e) => setWin({ ...win, from: e.currentTarget.value })} />}
            </Field>
            <Field label="Replay to">
              {(id) => <input id={id} type="datetime-local" value={win.to} onInput={(e) => setWin({ ...win, to: e.currentTarget.value })} />}
            </Field>
            <Field label="Through rule">
              {(id) => (
                <select id={id} value={win.rule} onChange={(e) => setWin({ ...win, rule: e.currentTarget.value })}>
                  <option value="">every rule</option>
                  {rules.data?.rules.map((r) => (
                    <option key={r.name} value={r.name}>
                      {r.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <button type="submit">Replay…</button>
          </form>
        </section>
      )}
      <ErrorNotice error={res.error} />
      {!res.data ? (
        !res.error && <Loading />
      ) : (
        <>
          <div class="table-wrap">
            <table aria-label="events" data-testid="events-table">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Source</th>
                  <th>Detail type</th>
                  <th>Order</th>
                  <th>Event</th>
                </tr>
              </thead>
              <tbody>
                {res.data.events.map((e) => (
                  <EventRow key={e.id} e={e} />
                ))}
                {!res.data.events.length && (
                  <tr>
                    <td colSpan={5} class="muted">
                      No events match.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <div class="row" style="margin-top:8px">
            <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
              ← Newer
            </button>
            <button type="button" disabled={!res.data.nextCursor} onClick={() => setCursors([...cursors, res.data!.nextCursor])}>
              Older →
            </button>
          </div>
        </>
      )}
      <Confirm open={replay} title="Replay this window?" confirmLabel="Replay" busy={busy} onConfirm={doReplay} onCancel={() => setReplay(false)}>
        <p>
          Every archived event from {win.from.replace("T", " ")} to {win.to.replace("T", " ")} is published again through{" "}
          {win.rule ? "the rule " + win.rule : "every rule"}.
        </p>
      </Confirm>
    </div>
  );
}

function EventRow({ e }: { e: LoggedEvent }) {
  return (
    <tr>
      <td class="nowrap small">{dateTime(e.time)}</td>
      <td class="small">{e.source}</td>
      <td>
        {e.detailType}
        {e.replayName && <span class="badge b-muted"> replay {e.replayName}</span>}
      </td>
      <td class="mono small">{e.orderId ? <a href={"/orders/" + encodeURIComponent(e.orderId)}>{e.orderId}</a> : "—"}</td>
      <td>
        <details>
          <summary class="small mono">{e.id}</summary>
          <JsonView value={e.event} />
        </details>
      </td>
    </tr>
  );
}
