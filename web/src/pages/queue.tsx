// One queue: its statistics and attributes (edit: admin), and a message
// browser that shows messages WITHOUT receiving them (GET
// /api/queues/{name}/messages): body, attributes, receive count, first
// receive, the order it concerns.  For a dead-letter queue: select some or
// all and redrive them, redrive N, redrive all, purge after typing the
// queue's name (operator, admin); the result counts are shown.  Delete the
// queue after typing its name (admin; the server refuses the topology's
// queues and a queue that is another's DLQ, and the page says why).
import { useState } from "preact/hooks";
import { api, ApiError, followTask, must, type BrowsedMessage, type Queue } from "../api/client";
import { can } from "../auth";
import { navigate } from "../router";
import { Badge, Confirm, ErrorNotice, Field, JsonView, Loading, Notice, PageTitle } from "../components/ui";
import { useLive } from "../live";
import { dateTime, duration, num, useAsync } from "../util";

const PAGE = 50;

export function QueueDetail({ name }: { name: string }) {
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [stack, setStack] = useState<(string | undefined)[]>([]);
  const q = useAsync(() => must(api.GET("/api/queues/{name}", { params: { path: { name } } })), [name]);
  const msgs = useAsync(
    () => must(api.GET("/api/queues/{name}/messages", { params: { path: { name }, query: { limit: PAGE, cursor } } })),
    [name, cursor],
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [msg, setMsg] = useState<{ kind: "ok" | "bad"; text: string } | null>(null);
  const [purging, setPurging] = useState(false);
  const [dropping, setDropping] = useState(false);
  const [busy, setBusy] = useState(false);
  const [n, setN] = useState("10");

  useLive((kind) => {
    if (kind === "metrics" || kind === "poll" || kind === "reset") {
      q.reload();
      msgs.reload();
    }
  });

  const queue = q.data;
  const page = msgs.data?.messages ?? [];
  const isDlq = !!queue?.deadLetterQueue;
  const mayRedrive = isDlq && can("queues:redrive");

  function refresh() {
    setSelected(new Set());
    q.reload();
    msgs.reload();
  }

  async function redrive(body: { messageIds?: string[]; maxMessages?: number } | undefined, what: string) {
    setBusy(true);
    setMsg(null);
    try {
      const r = await must(api.POST("/api/queues/{name}/redrive", { params: { path: { name } }, body: body as never }));
      let moved: number, left = "";
      if ("id" in r) {
        // the whole queue (or N of it): a background task, followed here
        const t = await followTask(r.id, (p) =>
          setMsg({ kind: "ok", text: `Redrive (${what}): ${p.messagesMoved ?? 0} of ${p.messagesToMove ?? 0} moved…` }),
        );
        if (t.state !== "COMPLETED") throw new Error(`the task is ${t.state}${t.error ? ": " + t.error : ""}`);
        moved = t.messagesMoved ?? 0;
      } else {
        moved = r.moved;
        left = r.notMoved?.length ? `; ${r.notMoved.length} not moved (gone or in flight)` : "";
      }
      setMsg({ kind: "ok", text: `Redrive (${what}): ${moved} message${moved === 1 ? "" : "s"} moved back${left}.` });
      refresh();
    } catch (e) {
      setMsg({ kind: "bad", text: "Redrive failed: " + (e as Error).message });
    } finally {
      setBusy(false);
    }
  }

  async function purge() {
    setBusy(true);
    try {
      const r = await must(api.POST("/api/queues/{name}/purge", { params: { path: { name } } }));
      setMsg({ kind: "ok", text: `Purged: ${r.purged} message${r.purged === 1 ? "" : "s"} deleted.` });
      refresh();
    } catch (e) {
      setMsg({ kind: "bad", text: "Purge failed: " + (e as Error).message });
    } finally {
      setBusy(false);
      setPurging(false);
    }
  }

  async function drop() {
    setBusy(true);
    try {
      await must(api.DELETE("/api/queues/{name}", { params: { path: { name } } }));
      navigate("/queues");
    } catch (e) {
      setMsg({ kind: "bad", text: "Delete failed: " + (e as Error).message });
    } finally {
      setBusy(false);
      setDropping(false);
    }
  }

  const allOnPage = page.length > 0 && page.every((m) => selected.has(m.messageId));
  return (
    <div>
      <PageTitle>{"Queue " + name}</PageTitle>
      <p>
        <a href="/queues">← all queues</a>
      </p>
      <ErrorNotice error={q.error} />
      {msg && <Notice kind={msg.kind}>{msg.text}</Notice>}
      {queue && <Stats q={queue} />}
      {queue && <Attributes q={queue} onSaved={() => q.reload()} />}
      <section class="panel" aria-labelledby="msgs-h">
        <div class="row" style="align-items:center">
          <h2 id="msgs-h" style="margin:0">
            Messages
          </h2>
          <span class="muted small">browsed without receiving: nothing changes</span>
          <span class="spacer" />
          {mayRedrive && (
            <>
              <button type="button" class="primary" disabled={!selected.size || busy} onClick={() => redrive({ messageIds: [...selected] }, "selected")}>
                Redrive selected ({selected.size})
              </button>
              <form
                class="row"
                style="align-items:flex-end;gap:4px"
                onSubmit={(e) => {
                  e.preventDefault();
                  if (/^[0-9]+$/.test(n) && +n >= 1 && +n <= 100000) redrive({ maxMessages: +n }, "first " + n);
                  else setMsg({ kind: "bad", text: "N must be a whole number from 1 to 100000." });
                }}
              >
                <Field label="N">
                  {(id) => <input id={id} style="width:6em" inputMode="numeric" value={n} onInput={(e) => setN(e.currentTarget.value)} />}
                </Field>
                <button type="submit" disabled={busy}>
                  Redrive N
                </button>
              </form>
              <button type="button" disabled={busy} onClick={() => redrive(undefined, "all")}>
                Redrive all
              </button>
            </>
          )}
          {can("queues:purge") && (
            <button type="button" class="danger" disabled={busy} onClick={() => setPurging(true)}>
              Purge…
            </button>
          )}
          {can("queues:delete") && (
            <button type="button" class="danger" disabled={busy} onClick={() => setDropping(true)}>
              Delete queue…
            </button>
          )}
        </div>
        <ErrorNotice error={msgs.error} />
        {!msgs.data ? (
          !msgs.error && <Loading />
        ) : (
          <div class="table-wrap" style="margin-top:10px">
            <table aria-label="messages" data-testid="messages-table">
              <thead>
                <tr>
                  {mayRedrive && (
                    <th>
                      <input
                        type="checkbox"
                        aria-label="Select every message on this page"
                        checked={allOnPage}
                        onChange={() => {
                          const s = new Set(selected);
                          page.forEach((m) => (allOnPage ? s.delete(m.messageId) : s.add(m.messageId)));
                          setSelected(s);
                        }}
                      />
                    </th>
                  )}
                  <th>Message</th>
                  <th>State</th>
                  <th class="num">Receives</th>
                  <th>Sent</th>
                  <th>First receive</th>
                  {isDlq && <th>Dead-lettered</th>}
                  {isDlq && <th>From</th>}
                  <th>Order</th>
                  <th>Body</th>
                </tr>
              </thead>
              <tbody>
                {page.map((m) => (
                  <MessageRow
                    key={m.messageId}
                    m={m}
                    isDlq={isDlq}
                    selectable={mayRedrive}
                    selected={selected.has(m.messageId)}
                    onToggle={() => {
                      const s = new Set(selected);
                      if (s.has(m.messageId)) s.delete(m.messageId);
                      else s.add(m.messageId);
                      setSelected(s);
                    }}
                  />
                ))}
                {!page.length && (
                  <tr>
                    <td colSpan={10} class="muted">
                      No messages.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        )}
        <div class="row" style="margin-top:8px">
          <button
            type="button"
            disabled={!stack.length}
            onClick={() => {
              setCursor(stack[stack.length - 1]);
              setStack(stack.slice(0, -1));
            }}
          >
            ← Previous
          </button>
          <button
            type="button"
            disabled={!msgs.data?.nextCursor}
            onClick={() => {
              setStack([...stack, cursor]);
              setCursor(msgs.data?.nextCursor);
            }}
          >
            Next →
          </button>
        </div>
      </section>
      <Confirm
        open={purging}
        title={"Purge " + name + "?"}
        confirmLabel="Purge"
        danger
        typed={name}
        busy={busy}
        onConfirm={purge}
        onCancel={() => setPurging(false)}
      >
        <p>
          Every message of <code>{name}</code> ({num(queue?.stats?.visible)} visible, {num(queue?.stats?.inFlight)} in flight) is
          deleted for good.
        </p>
      </Confirm>
      <Confirm
        open={dropping}
        title={"Delete queue " + name + "?"}
        confirmLabel="Delete queue"
        danger
        typed={name}
        busy={busy}
        onConfirm={drop}
        onCancel={() => setDropping(false)}
      >
        <p>
          The queue <code>{name}</code> and its {num(queue?.stats?.visible)} visible and {num(queue?.stats?.inFlight)} in-flight
          messages are deleted for good; its name can be used again. The configured topology's queues and a queue that is
          another's dead-letter queue cannot be deleted.
        </p>
      </Confirm>
    </div>
  );
}

function MessageRow(props: { m: BrowsedMessage; isDlq: boolean; selectable: boolean; selected: boolean; onToggle: () => void }) {
  const m = props.m;
  let body: unknown = m.body;
  try {
    body = m.bodyEncoding ? m.body : JSON.parse(m.body);
  } catch {
    body = m.body;
  }
  return (
    <tr data-message={m.messageId}>
      {props.selectable && (
        <td>
          <input type="checkbox" aria-label={"Select message " + m.messageId} checked={props.selected} onChange={props.onToggle} />
        </td>
      )}
      <td class="mono small">{m.messageId}</td>
      <td>
        <Badge value={m.state === "visible" ? "OK" : "PENDING"} title={m.state} />
        <span class="small"> {m.state}</span>
      </td>
      <td class="num">{m.receiveCount}</td>
      <td class="nowrap small">{dateTime(m.sentAt)}</td>
      <td class="nowrap small">{dateTime(m.firstReceiveAt)}</td>
      {props.isDlq && <td class="nowrap small">{dateTime(m.movedAt)}</td>}
      {props.isDlq && <td class="small">{m.sourceQueue ?? "—"}</td>}
      <td class="mono small">{m.orderId ? <a href={"/orders/" + encodeURIComponent(m.orderId)}>{m.orderId}</a> : "—"}</td>
      <td>
        <details>
          <summary class="small">
            {m.bodySize} bytes{m.bodyTruncated ? " (first 64 KiB)" : ""}
          </summary>
          {typeof body === "string" ? <pre class="mono">{body}</pre> : <JsonView value={body} />}
          {Object.keys(m.messageAttributes).length > 0 && (
            <>
              <h3>Message attributes</h3>
              <JsonView value={m.messageAttributes} />
            </>
          )}
        </details>
      </td>
    </tr>
  );
}

function Stats({ q }: { q: Queue }) {
  const s = q.stats;
  if (!s) return null;
  return (
    <section class="cards" aria-label="statistics">
      {(
        [
          ["Visible", num(s.visible)],
          ["In flight", num(s.inFlight)],
          ["Delayed", num(s.delayed)],
          ["Oldest", s.visible || s.inFlight ? duration(s.oldestAgeSeconds) : "—"],
          ["Sent", num(s.sent)],
          ["Received", num(s.received)],
          ["Deleted", num(s.deleted)],
          ["Moved to DLQ", num(s.movedToDlq)],
        ] as const
      ).map(([l, v]) => (
        <div class="card" key={l}>
          <div class="label">{l}</div>
          <div class="value" data-stat={l}>
            {v}
          </div>
        </div>
      ))}
    </section>
  );
}

const ATTRS = [
  ["VisibilityTimeout", "seconds a received message stays invisible", 0, 43200],
  ["DelaySeconds", "seconds a new message waits before it is visible", 0, 900],
  ["MessageRetentionPeriod", "seconds a message is kept", 60, 1209600],
  ["MaximumMessageSize", "largest body, bytes", 1024, 262144],
  ["ReceiveMessageWaitTimeSeconds", "default long poll, seconds", 0, 20],
] as const;

function Attributes({ q, onSaved }: { q: Queue; onSaved: () => void }) {
  const [edit, setEdit] = useState(false);
  const [vals, setVals] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [msg, setMsg] = useState<{ kind: "ok" | "bad"; text: string } | null>(null);
  const a = q.attributes as Record<string, unknown>;
  async function save(e: Event) {
    e.preventDefault();
    const es: Record<string, string> = {};
    const body: Record<string, number> = {};
    for (const [k, , lo, hi] of ATTRS) {
      const v = vals[k] ?? String(a[k]);
      if (!/^[0-9]+$/.test(v) || +v < lo || +v > hi) es[k] = `${lo}-${hi}`;
      else body[k] = +v;
    }
    setErrors(es);
    if (Object.keys(es).length) return;
    try {
      await must(api.PUT("/api/queues/{name}/attributes", { params: { path: { name: q.name } }, body: { attributes: body } }));
      setMsg({ kind: "ok", text: "Attributes saved." });
      setEdit(false);
      onSaved();
    } catch (x) {
      setMsg({ kind: "bad", text: (x as ApiError).message });
    }
  }
  return (
    <section class="panel" aria-labelledby="attr-h">
      <div class="row" style="align-items:center">
        <h2 id="attr-h" style="margin:0">
          Attributes
        </h2>
        <span class="spacer" />
        {can("queues:attributes") && !edit && (
          <button type="button" onClick={() => setEdit(true)}>
            Edit
          </button>
        )}
      </div>
      {msg && <Notice kind={msg.kind}>{msg.text}</Notice>}
      {!edit ? (
        <dl class="small" style="display:grid;grid-template-columns:max-content 1fr;gap:4px 12px">
          {ATTRS.map(([k, h]) => (
            <>
              <dt key={k}>{k}</dt>
              <dd style="margin:0">
                {String(a[k])} <span class="muted">— {h}</span>
              </dd>
            </>
          ))}
          {q.attributes.RedrivePolicy && (
            <>
              <dt>RedrivePolicy</dt>
              <dd style="margin:0">
                to {q.attributes.RedrivePolicy.deadLetterTargetArn} after {q.attributes.RedrivePolicy.maxReceiveCount} receives
              </dd>
            </>
          )}
        </dl>
      ) : (
        <form onSubmit={save} noValidate class="row">
          {ATTRS.map(([k, h]) => (
            <Field key={k} label={k} hint={h} error={errors[k]}>
              {(id, d, bad) => (
                <input
                  id={id}
                  style="width:9em"
                  inputMode="numeric"
                  aria-describedby={d}
                  aria-invalid={bad}
                  value={vals[k] ?? String(a[k])}
                  onInput={(e) => setVals({ ...vals, [k]: e.currentTarget.value })}
                />
              )}
            </Field>
          ))}
          <button type="submit" class="primary">
            Save
          </button>
          <button type="button" onClick={() => setEdit(false)}>
            Cancel
          </button>
        </form>
      )}
    </section>
  );
}
