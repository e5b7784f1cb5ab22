// One order: items with prices and totals, payment, attempts, its timeline
// (events and notifications from the event log), Cancel while cancellable;
// live while it changes.
import { useState } from "preact/hooks";
import { api, must, type Order, type Timeline } from "../api/client";
import { can } from "../auth";
import { Badge, Confirm, ErrorNotice, JsonView, Loading, Notice, PageTitle } from "../components/ui";
import { useLive } from "../live";
import { dateTime, money, useAsync } from "../util";

const TOKENS: Record<string, string> = {
  tok_visa: "Visa (captures)",
  tok_chargeDeclined: "declined card",
  tok_insufficientFunds: "insufficient funds",
  tok_processingError: "processing error (retried)",
};

export function OrderDetail({ id }: { id: string }) {
  const order = useAsync(() => must(api.GET("/api/orders/{id}", { params: { path: { id } } })), [id]);
  const tl = useAsync(() => must(api.GET("/api/orders/{id}/events", { params: { path: { id } } })), [id]);
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ kind: "ok" | "bad"; text: string } | null>(null);

  useLive((kind, ev) => {
    if (kind === "reset" || kind === "poll" || (kind === "order" && ev.orderId === id)) {
      order.reload();
      tl.reload();
    }
  });

  async function cancel() {
    setBusy(true);
    try {
      const o = await must(api.DELETE("/api/orders/{id}", { params: { path: { id } } }));
      order.set(o);
      setResult({ kind: "ok", text: "Cancelled; its reservation is released." });
      tl.reload();
    } catch (e) {
      setResult({ kind: "bad", text: (e as Error).message });
    } finally {
      setBusy(false);
      setConfirm(false);
    }
  }

  const o = order.data;
  const cancellable = o && (o.status === "PENDING" || o.status === "RESERVED") && can("orders:cancel");
  return (
    <div>
      <PageTitle
        right={
          cancellable && (
            <button type="button" class="danger" onClick={() => setConfirm(true)}>
              Cancel order
            </button>
          )
        }
      >
        {"Order " + id}
      </PageTitle>
      <p>
        <a href="/orders">← all orders</a>
      </p>
      {result && <Notice kind={result.kind}>{result.text}</Notice>}
      {order.data?.status === "FAILED" && (
        <Notice kind="warn">
          This order's message was dead-lettered after its retries. Redrive it from its dead-letter queue on the{" "}
          <a href="/queues">Queues</a> page: processing resumes where it stopped
          {order.data.failedFrom ? " (" + order.data.failedFrom + ")" : ""}.
        </Notice>
      )}
      <ErrorNotice error={order.error} />
      {!o ? (
        !order.error && <Loading />
      ) : (
        <div class="grid2">
          <Summary o={o} />
          <Items o={o} />
        </div>
      )}
      <TimelineView t={tl.data} error={tl.error} />
      <Confirm
        open={confirm}
        title="Cancel this order?"
        confirmLabel="Cancel order"
        danger
        busy={busy}
        onConfirm={cancel}
        onCancel={() => setConfirm(false)}
      >
        <p>
          Order <code>{id}</code> will be CANCELLED and any reserved stock released. This cannot be undone.
        </p>
      </Confirm>
    </div>
  );
}

function Summary({ o }: { o: Order }) {
  return (
    <section class="panel" aria-labelledby="sum-h">
      <h2 id="sum-h" style="margin-top:0">
        Status <Badge value={o.status} />
      </h2>
      <dl class="small" style="display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0">
        <dt>Customer</dt>
        <dd style="margin:0">{o.customerId}</dd>
        {o.reason && (
          <>
            <dt>Reason</dt>
            <dd style="margin:0">{o.reason}</dd>
          </>
        )}
        {o.failedFrom && (
          <>
            <dt>Failed from</dt>
            <dd style="margin:0">{o.failedFrom} (a redrive resumes it there)</dd>
          </>
        )}
        <dt>Payment</dt>
        <dd style="margin:0">
          <code>{o.payment.token}</code> {TOKENS[o.payment.token] ? "— " + TOKENS[o.payment.token] : ""}
        </dd>
        <dt>Attempts</dt>
        <dd style="margin:0" data-testid="attempts">
          {o.attempts}
        </dd>
        {o.lastError && (
          <>
            <dt>Last error</dt>
            <dd style="margin:0" class="mono">
              {o.lastError}
            </dd>
          </>
        )}
        <dt>Created</dt>
        <dd style="margin:0">{dateTime(o.createdAt)}</dd>
        <dt>Updated</dt>
        <dd style="margin:0">{dateTime(o.updatedAt)}</dd>
        {o.reservedAt && (
          <>
            <dt>Reserved</dt>
            <dd style="margin:0">{dateTime(o.reservedAt)}</dd>
          </>
        )}
        {o.completedAt && (
          <>
            <dt>Completed</dt>
            <dd style="margin:0">{dateTime(o.completedAt)}</dd>
          </>
        )}
        <dt>Event</dt>
        <dd style="margin:0" class="mono">
          {o.eventId}
        </dd>
      </dl>
    </section>
  );
}

function Items({ o }: { o: Order }) {
  return (
    <section class="panel" aria-labelledby="items-h">
      <h2 id="items-h" style="margin-top:0">
        Items
      </h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>SKU</th>
              <th class="num">Qty</th>
              <th class="num">Unit price</th>
              <th class="num">Line total</th>
            </tr>
          </thead>
          <tbody>
            {o.items.map((it) => (
              <tr key={it.sku}>
                <td class="mono">{it.sku}</td>
                <td class="num">{it.qty}</td>
                <td class="num">{it.unitPriceCents === null ? "unknown sku" : money(it.unitPriceCents)}</td>
                <td class="num">{it.unitPriceCents === null ? "—" : money(it.unitPriceCents * it.qty)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th>Total</th>
              <th class="num">{o.units}</th>
              <th />
              <th class="num">{money(o.totalCents)}</th>
            </tr>
          </tfoot>
        </table>
      </div>
    </section>
  );
}

function TimelineView({ t, error }: { t?: Timeline; error?: Error }) {
  return (
    <section class="panel" aria-labelledby="tl-h">
      <h2 id="tl-h" style="margin-top:0">
        Timeline
      </h2>
      <ErrorNotice error={error} />
      {!t ? (
        !error && <Loading />
      ) : (
        <ol class="timeline" data-testid="timeline">
          {t.events.map((e) => (
            <li key={e.eventId}>
              <strong>{e.type}</strong> <span class="muted small">{dateTime(e.time)}</span>
              <details>
                <summary class="small">detail</summary>
                <JsonView value={e.detail} />
              </details>
            </li>
          ))}
          {t.notifications.map((n) => (
            <li key={"n" + n.eventId}>
              <strong>Notification</strong> {n.template} by {n.channel} to {n.recipient}{" "}
              <span class="muted small">{dateTime(n.createdAt)}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
