// New order: seed 001's form.  Items are added and removed, a sku is picked
// from the catalog or typed.  The browser checks what the server checks
// (design.md "Validation") before sending; the server's own problem+json
// field errors are shown at the same fields (untick "Check in the browser
// first" to see them).  The answer panel gives orderId and eventId.
import { useState } from "preact/hooks";
import { api, ApiError, must, type Schemas } from "../api/client";
import { useSession } from "../auth";
import { ErrorNotice, Field, Notice, PageTitle } from "../components/ui";
import { useAsync } from "../util";

const TOKENS = [
  ["tok_visa", "Visa — captures"],
  ["tok_chargeDeclined", "Card declined"],
  ["tok_insufficientFunds", "Insufficient funds"],
  ["tok_processingError", "Processing error (retried, succeeds on the 3rd attempt)"],
] as const;

const SKU_RE = /^[A-Za-z0-9_.-]+$/;
const MAX_ITEMS = 50;
const QTY_MAX = 10000;
const CUSTOMER_MAX = 64;

interface Item {
  key: number;
  sku: string;
  qty: string;
}

type Errors = Record<string, string>;

/** The server's rules, in the browser.  Keys are the server's field names. */
export function validateOrder(customer: string | null, items: Item[], token: string): Errors {
  const e: Errors = {};
  if (customer !== null) {
    const chars = [...customer].length;
    if (chars < 1 || chars > CUSTOMER_MAX) e.customerId = `must be 1-${CUSTOMER_MAX} characters`;
    else if (/[\u0000-\u001f\u007f]/.test(customer)) e.customerId = "must not contain control characters";
  }
  if (items.length < 1 || items.length > MAX_ITEMS) e.items = `must have 1-${MAX_ITEMS} items`;
  const seen = new Map<string, number>();
  items.forEach((it, i) => {
    const sku = it.sku;
    if (!sku) e[`items[${i}].sku`] = "required";
    else if (sku.length > 64) e[`items[${i}].sku`] = "must be 1-64 characters";
    else if (!SKU_RE.test(sku)) e[`items[${i}].sku`] = "allowed: A-Z a-z 0-9 _ . -";
    else if (seen.has(sku)) e[`items[${i}].sku`] = `duplicate sku '${sku}' (also item ${seen.get(sku)! + 1})`;
    else seen.set(sku, i);
    const q = it.qty.trim();
    if (!/^[0-9]+$/.test(q)) e[`items[${i}].qty`] = `must be an integer between 1 and ${QTY_MAX}`;
    else if (+q < 1 || +q > QTY_MAX) e[`items[${i}].qty`] = `must be between 1 and ${QTY_MAX}`;
  });
  if (!TOKENS.some(([t]) => t === token)) e["payment.token"] = "unknown token";
  return e;
}

let itemSeq = 0;

export function NewOrder() {
  const session = useSession();
  const isCustomer = session.me?.role === "customer";
  const products = useAsync(() => must(api.GET("/api/products")), []);
  const [customer, setCustomer] = useState(isCustomer ? session.me?.customerId || session.me?.username || "" : "c-42");
  const [items, setItems] = useState<Item[]>([{ key: ++itemSeq, sku: "prod-001", qty: "1" }]);
  const [token, setToken] = useState("tok_visa");
  const [browserChecks, setBrowserChecks] = useState(true);
  const [errors, setErrors] = useState<Errors>({});
  const [other, setOther] = useState<string>("");
  const [result, setResult] = useState<{ orderId: string; eventId: string; status: string } | null>(null);
  const [busy, setBusy] = useState(false);

  function update(i: number, patch: Partial<Item>) {
    setItems(items.map((it, k) => (k === i ? { ...it, ...patch } : it)));
  }

  async function submit(ev: Event) {
    ev.preventDefault();
    setResult(null);
    setOther("");
    const errs = browserChecks ? validateOrder(isCustomer ? null : customer, items, token) : {};
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      const body: Record<string, unknown> = {
        items: items.map((it) => ({ sku: it.sku, qty: /^-?[0-9]+$/.test(it.qty.trim()) ? +it.qty : it.qty })),
        payment: { token },
      };
      if (!isCustomer) body.customerId = customer;
      const r = await must(api.POST("/api/orders", { body: body as Schemas["OrderIn"] }));
      setResult(r);
    } catch (e) {
      const err = e as ApiError;
      const fields: Errors = {};
      const rest: string[] = [];
      for (const fe of err.problem?.errors ?? []) {
        const f = fe.field.replace(/\.quantity$/, ".qty");
        if (f === "customerId" || f === "items" || f === "payment.token" || /^items\[\d+\]\.(sku|qty)$/.test(f))
          fields[f] = fe.message;
        else rest.push(fe.field + ": " + fe.message);
      }
      setErrors(fields);
      setOther(rest.length ? rest.join("; ") : Object.keys(fields).length ? "" : err.message);
    } finally {
      setBusy(false);
    }
  }

  const catalog = products.data?.products ?? [];
  return (
    <div>
      <PageTitle>New order</PageTitle>
      <Notice kind="info">
        Tip: an item with SKU <code>FAIL-ME</code> makes order-processor fail. The order is retried 5 times, then its
        message is dead-lettered and the order is FAILED; redrive it from the DLQ on the <a href="/queues">Queues</a>{" "}
        page.
      </Notice>
      <ErrorNotice error={products.error} />
      <form class="panel" onSubmit={submit} noValidate aria-label="new order">
        {Object.keys(errors).length > 0 && (
          <Notice kind="bad">
            {Object.keys(errors).length === 1 ? "One field needs" : Object.keys(errors).length + " fields need"} attention.
          </Notice>
        )}
        {other && <Notice kind="bad">{other}</Notice>}
        {!isCustomer && (
          <Field label="Customer id" error={errors.customerId} hint="1-64 characters">
            {(id, d, bad) => (
              <input
                id={id}
                name="customerId"
                aria-describedby={d}
                aria-invalid={bad}
                value={customer}
                onInput={(e) => setCustomer(e.currentTarget.value)}
              />
            )}
          </Field>
        )}
        <fieldset style="margin-top:12px" aria-describedby={errors.items ? "items-err" : undefined}>
          <legend>Items</legend>
          {errors.items && (
            <p class="error" id="items-err" style="color:var(--bad);margin:0 0 6px">
              {errors.items}
            </p>
          )}
          <datalist id="catalog">
            {catalog.map((p) => (
              <option key={p.sku} value={p.sku}>
                {p.name} — {p.available} available
              </option>
            ))}
          </datalist>
          {items.map((it, i) => (
            <div class="row" key={it.key} style="margin-bottom:8px" data-item={i}>
              <Field label={`SKU of item ${i + 1}`} error={errors[`items[${i}].sku`]}>
                {(id, d, bad) => (
                  <input
                    id={id}
                    name={`items[${i}].sku`}
                    list="catalog"
                    aria-describedby={d}
                    aria-invalid={bad}
                    value={it.sku}
                    onInput={(e) => update(i, { sku: e.currentTarget.value })}
                  />
                )}
              </Field>
              <Field label={`Quantity of item ${i + 1}`} error={errors[`items[${i}].qty`]}>
                {(id, d, bad) => (
                  <input
                    id={id}
                    name={`items[${i}].qty`}
                    inputMode="numeric"
                    style="width:8em"
                    aria-describedby={d}
                    aria-invalid={bad}
                    value={it.qty}
                    onInput={(e) => update(i, { qty: e.currentTarget.value })}
                  />
                )}
              </Field>
              <button
                type="button"
                aria-label={`Remove item ${i + 1}`}
                onClick={() => setItems(items.filter((_, k) => k !== i))}
              >
                Remove
              </button>
            </div>
          ))}
          <button
            type="button"
            disabled={items.length >= MAX_ITEMS}
            onClick={() => setItems([...items, { key: ++itemSeq, sku: "", qty: "1" }])}
          >
            Add item
          </button>
        </fieldset>
        <Field label="Payment token" error={errors["payment.token"]}>
          {(id, d, bad) => (
            <select id={id} name="payment.token" aria-describedby={d} aria-invalid={bad} value={token} onChange={(e) => setToken(e.currentTarget.value)}>
              {TOKENS.map(([t, label]) => (
                <option key={t} value={t}>
                  {t} — {label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div class="row" style="margin-top:14px;align-items:center">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Submitting…" : "Submit order"}
          </button>
          <label class="live" style="font-weight:400">
            <input type="checkbox" checked={browserChecks} onChange={(e) => setBrowserChecks(e.currentTarget.checked)} />
            Check in the browser first
          </label>
        </div>
      </form>
      {result && (
        <section class="panel" aria-labelledby="res-h" data-testid="order-result">
          <h2 id="res-h" style="margin-top:0">
            Accepted
          </h2>
          <p>
            Order <a href={"/orders/" + encodeURIComponent(result.orderId)}>{result.orderId}</a> is {result.status}.
          </p>
          <p class="small">
            eventId <code>{result.eventId}</code>
          </p>
          <pre class="mono">{JSON.stringify(result, null, 2)}</pre>
        </section>
      )}
    </div>
  );
}
