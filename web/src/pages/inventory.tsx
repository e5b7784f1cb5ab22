// Inventory: every product with stock, reserved, available and sold, low
// stock highlighted; create (admin), restock (admin, operator), delete
// (admin).  Refreshes as orders reserve and capture stock.
import { useRef, useState } from "preact/hooks";
import { api, ApiError, must, type Product } from "../api/client";
import { can } from "../auth";
import { Confirm, ErrorNotice, Field, Loading, Notice, PageTitle } from "../components/ui";
import { useLive } from "../live";
import { money, num, useAsync } from "../util";

const LOW = 10; // the low-stock alarm's threshold

export function Inventory() {
  const list = useAsync(() => must(api.GET("/api/products")), []);
  const [msg, setMsg] = useState<{ kind: "ok" | "bad"; text: string } | null>(null);
  const [del, setDel] = useState<Product | null>(null);
  const [busy, setBusy] = useState(false);
  const timer = useRef(0);

  useLive((kind) => {
    if (kind === "order" && !timer.current)
      timer.current = window.setTimeout(() => {
        timer.current = 0;
        list.reload();
      }, 1000);
    if (kind === "reset" || kind === "poll") list.reload();
  });

  async function restock(p: Product, value: string) {
    setMsg(null);
    if (!/^[0-9]+$/.test(value) || +value > 1e9) return setMsg({ kind: "bad", text: "Stock must be a whole number from 0 to 1,000,000,000." });
    try {
      const r = await must(api.PUT("/api/products/{sku}", { params: { path: { sku: p.sku } }, body: { stock: +value } }));
      setMsg({ kind: "ok", text: `${p.sku}: stock ${num(r.stock)}, available ${num(r.available)}.` });
      list.reload();
    } catch (e) {
      setMsg({ kind: "bad", text: p.sku + ": " + (e as Error).message });
    }
  }

  async function remove() {
    if (!del) return;
    setBusy(true);
    try {
      await must(api.DELETE("/api/products/{sku}", { params: { path: { sku: del.sku } } }));
      setMsg({ kind: "ok", text: del.sku + " deleted." });
      list.reload();
    } catch (e) {
      setMsg({ kind: "bad", text: del.sku + ": " + (e as Error).message });
    } finally {
      setBusy(false);
      setDel(null);
    }
  }

  const products = list.data?.products;
  return (
    <div>
      <PageTitle>Inventory</PageTitle>
      {msg && <Notice kind={msg.kind}>{msg.text}</Notice>}
      <ErrorNotice error={list.error} />
      {!products ? (
        <Loading />
      ) : (
        <div class="table-wrap">
          <table aria-label="products" data-testid="products-table">
            <thead>
              <tr>
                <th>SKU</th>
                <th>Name</th>
                <th class="num">Price</th>
                <th class="num">Stock</th>
                <th class="num">Reserved</th>
                <th class="num">Available</th>
                <th class="num">Sold</th>
                {(can("products:restock") || can("products:delete")) && <th>Actions</th>}
              </tr>
            </thead>
            <tbody>
              {products.map((p) => (
                <tr key={p.sku} class={p.available < LOW ? "low" : ""} data-sku={p.sku}>
                  <td class="mono">{p.sku}</td>
                  <td>{p.name}</td>
                  <td class="num">{money(p.priceCents)}</td>
                  <td class="num" data-col="stock">
                    {num(p.stock)}
                  </td>
                  <td class="num" data-col="reserved">
                    {num(p.reserved)}
                  </td>
                  <td class="num" data-col="available">
                    {num(p.available)}
                    {p.available < LOW && <span class="badge b-warn" style="margin-left:6px">low</span>}
                  </td>
                  <td class="num">{num(p.sold)}</td>
                  {(can("products:restock") || can("products:delete")) && (
                    <td class="nowrap">
                      {can("products:restock") && <Restock p={p} onSave={(v) => restock(p, v)} />}
                      {can("products:delete") && (
                        <button type="button" class="link" aria-label={"Delete " + p.sku} onClick={() => setDel(p)}>
                          Delete
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
              {!products.length && (
                <tr>
                  <td colSpan={8} class="muted">
                    No products yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      {can("products:create") && <CreateProduct onDone={(t) => (setMsg({ kind: "ok", text: t }), list.reload())} />}
      <Confirm
        open={!!del}
        title={"Delete " + (del?.sku ?? "") + "?"}
        confirmLabel="Delete product"
        danger
        busy={busy}
        onConfirm={remove}
        onCancel={() => setDel(null)}
      >
        <p>The product leaves the catalog; new orders for it are rejected as unknown_sku. A product with reserved units cannot be deleted.</p>
      </Confirm>
    </div>
  );
}

function Restock({ p, onSave }: { p: Product; onSave: (v: string) => void }) {
  const [v, setV] = useState(String(p.stock));
  return (
    <form
      class="row"
      style="display:inline-flex;gap:4px"
      onSubmit={(e) => {
        e.preventDefault();
        onSave(v.trim());
      }}
    >
      <label class="sr-only" for={"restock-" + p.sku}>
        New stock of {p.sku}
      </label>
      <input id={"restock-" + p.sku} style="width:7em" inputMode="numeric" value={v} onInput={(e) => setV(e.currentTarget.value)} />
      <button type="submit" aria-label={"Restock " + p.sku}>
        Restock
      </button>
    </form>
  );
}

function CreateProduct({ onDone }: { onDone: (text: string) => void }) {
  const [f, setF] = useState({ sku: "", name: "", price: "", stock: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [err, setErr] = useState<unknown>(null);
  async function submit(e: Event) {
    e.preventDefault();
    const es: Record<string, string> = {};
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(f.sku)) es.sku = "1-64 characters of A-Z a-z 0-9 _ . -";
    if (!f.name || f.name.length > 200) es.name = "1-200 characters";
    if (!/^\d+(\.\d{1,2})?$/.test(f.price)) es.priceCents = "a price like 12.50";
    if (!/^\d+$/.test(f.stock) || +f.stock > 1e9) es.stock = "a whole number 0-1,000,000,000";
    setErrors(es);
    setErr(null);
    if (Object.keys(es).length) return;
    try {
      await must(
        api.POST("/api/products", {
          body: { sku: f.sku, name: f.name, priceCents: Math.round(parseFloat(f.price) * 100), stock: +f.stock },
        }),
      );
      onDone(f.sku + " created.");
      setF({ sku: "", name: "", price: "", stock: "" });
    } catch (x) {
      const a = x as ApiError;
      const fe: Record<string, string> = {};
      a.problem?.errors?.forEach((e2) => (fe[e2.field] = e2.message));
      setErrors(fe);
      if (!a.problem?.errors?.length) setErr(x);
    }
  }
  const input = (key: "sku" | "name" | "price" | "stock", label: string, field: string, hint?: string) => (
    <Field label={label} error={errors[field]} hint={hint}>
      {(id, d, bad) => (
        <input id={id} aria-describedby={d} aria-invalid={bad} value={f[key]} onInput={(e) => setF({ ...f, [key]: e.currentTarget.value })} />
      )}
    </Field>
  );
  return (
    <form class="panel" style="margin-top:14px" onSubmit={submit} noValidate aria-labelledby="np-h">
      <h2 id="np-h" style="margin-top:0">
        New product
      </h2>
      <ErrorNotice error={err} />
      <div class="row">
        {input("sku", "SKU", "sku")}
        {input("name", "Name", "name")}
        {input("price", "Price (USD)", "priceCents")}
        {input("stock", "Stock", "stock")}
        <button type="submit" class="primary">
          Create
        </button>
      </div>
    </form>
  );
}
