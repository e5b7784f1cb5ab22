// Orders: status and customer filters, search by order id, keyset pages
// (newest first), statuses that change live without a reload.
import { useRef, useState } from "preact/hooks";
import { api, must, type Order } from "../api/client";
import { can, useSession } from "../auth";
import { Badge, ErrorNotice, Field, Loading, Pager, PageTitle } from "../components/ui";
import { useLive } from "../live";
import { navigate, useRoute } from "../router";
import { dateTime, money, ORDER_STATUSES, useAsync } from "../util";

const PAGE = 20;

export function Orders() {
  const route = useRoute();
  const session = useSession();
  const status = route.query.get("status") || "";
  const customer = route.query.get("customerId") || "";
  const cursor = route.query.get("cursor") || "";
  const [history, setHistory] = useState<string[]>([]); // cursors of the pages before this one
  const [search, setSearch] = useState("");
  const [searchError, setSearchError] = useState("");
  const [flash, setFlash] = useState<Record<string, number>>({});
  const refetchTimer = useRef(0);

  const list = useAsync(
    () =>
      must(
        api.GET("/api/orders", {
          params: {
            query: {
              limit: PAGE,
              status: (status || undefined) as Order["status"] | undefined,
              customerId: customer || undefined,
              cursor: cursor || undefined,
            },
          },
        }),
      ),
    [status, customer, cursor],
  );

  function setQuery(q: Record<string, string>) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v) p.set(k, v);
    setHistory([]);
    navigate("/orders" + (p.toString() ? "?" + p : ""));
  }

  function refetchSoon() {
    if (refetchTimer.current) return;
    refetchTimer.current = window.setTimeout(() => {
      refetchTimer.current = 0;
      list.reload();
    }, 500);
  }

  useLive((kind, ev) => {
    if (kind === "reset" || kind === "poll") return list.reload();
    if (kind !== "order" || !list.data) return;
    const rows = list.data.orders;
    const i = rows.findIndex((o) => o.orderId === ev.orderId);
    if (i >= 0 && ev.status && rows[i].status !== ev.status) {
      const next = rows.slice();
      next[i] = { ...rows[i], status: ev.status, reason: ev.reason ?? rows[i].reason };
      list.set({ ...list.data, orders: next });
      setFlash({ ...flash, [ev.orderId]: Date.now() });
    } else if (i < 0 && ev.type === "OrderCreated" && !cursor) {
      if ((!status || status === "PENDING") && (!customer || customer === ev.customerId)) refetchSoon();
    }
  });

  async function find(e: Event) {
    e.preventDefault();
    setSearchError("");
    const id = search.trim();
    if (!id) return setSearchError("Enter an order id.");
    const r = await api.GET("/api/orders/{id}", { params: { path: { id } } });
    if (r.response.ok) navigate("/orders/" + encodeURIComponent(id));
    else setSearchError(r.response.status === 404 ? "No order " + id + "." : "Search failed: " + r.response.status);
  }

  return (
    <div>
      <PageTitle right={can("orders:create") && <a class="button primary" href="/new">New order</a>}>Orders</PageTitle>
      <div class="panel">
        <form class="row" onSubmit={find} role="search" aria-label="find an order">
          <Field label="Order id" error={searchError}>
            {(id, d, bad) => (
              <input
                id={id}
                aria-describedby={d}
                aria-invalid={bad}
                value={search}
                placeholder="01a2… or ORD-…"
                onInput={(e) => setSearch(e.currentTarget.value)}
              />
            )}
          </Field>
          <button type="submit">Find</button>
        </form>
        <div class="row" style="margin-top:10px">
          <Field label="Status">
            {(id) => (
              <select id={id} value={status} onChange={(e) => setQuery({ status: e.currentTarget.value, customerId: customer })}>
                <option value="">any</option>
                {ORDER_STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {session.me?.role !== "customer" && (
            <form
              class="row"
              onSubmit={(e) => {
                e.preventDefault();
                const v = (e.currentTarget.elements.namedItem("customer") as HTMLInputElement).value.trim();
                setQuery({ status, customerId: v });
              }}
            >
              <Field label="Customer">
                {(id) => <input id={id} name="customer" defaultValue={customer} placeholder="customerId" />}
              </Field>
              <button type="submit">Filter</button>
              {(customer || status) && (
                <button type="button" onClick={() => setQuery({})}>
                  Clear
                </button>
              )}
            </form>
          )}
        </div>
      </div>
      <ErrorNotice error={list.error} />
      {!list.data ? (
        <Loading />
      ) : (
        <>
          <div class="table-wrap">
            <table aria-label="orders" data-testid="orders-table">
              <thead>
                <tr>
                  <th>Order</th>
                  <th>Status</th>
                  <th>Customer</th>
                  <th class="num">Items</th>
                  <th class="num">Total</th>
                  <th class="num">Attempts</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {list.data.orders.map((o) => (
                  <tr key={o.orderId + (flash[o.orderId] ?? "")} class={flash[o.orderId] ? "flash" : ""} data-order={o.orderId}>
                    <td class="mono">
                      <a href={"/orders/" + encodeURIComponent(o.orderId)}>{o.orderId}</a>
                    </td>
                    <td>
                      <Badge value={o.status} title={o.reason} />
                      {o.reason && <span class="muted small"> {o.reason}</span>}
                    </td>
                    <td>{o.customerId}</td>
                    <td class="num">{o.units}</td>
                    <td class="num">{money(o.totalCents)}</td>
                    <td class="num">{o.attempts}</td>
                    <td class="nowrap">{dateTime(o.createdAt)}</td>
                  </tr>
                ))}
                {!list.data.orders.length && (
                  <tr>
                    <td colSpan={7} class="muted">
                      No orders{status || customer ? " match the filters" : " yet"}.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <Pager
            hasPrev={!!cursor}
            hasNext={!!list.data.nextCursor}
            onPrev={() => {
              const prev = history.slice(0, -1);
              const to = history[history.length - 1] || "";
              setHistory(prev);
              const p = new URLSearchParams(location.search);
              if (to) p.set("cursor", to);
              else p.delete("cursor");
              navigate("/orders" + (p.toString() ? "?" + p : ""));
            }}
            onNext={() => {
              setHistory([...history, cursor]);
              const p = new URLSearchParams(location.search);
              p.set("cursor", list.data!.nextCursor!);
              navigate("/orders?" + p);
            }}
          />
        </>
      )}
    </div>
  );
}
