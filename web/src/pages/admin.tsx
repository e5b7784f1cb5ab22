// Users, API keys and the audit log (admin), on the accounts API (issue 9):
// GET/POST /api/users, PATCH/DELETE /api/users/{id}, GET/POST /api/keys,
// DELETE /api/keys/{id}, GET /api/audit.
import { useState } from "preact/hooks";
import { ApiError, request } from "../api/client";
import type { Role } from "../auth";
import { useSession } from "../auth";
import { Badge, Confirm, ErrorNotice, Field, Loading, Notice, PageTitle } from "../components/ui";
import { dateTime, useAsync } from "../util";

const ROLES: Role[] = ["admin", "operator", "viewer", "customer"];

interface User {
  id: string | number;
  username: string;
  email?: string;
  role: Role;
  status: "active" | "disabled";
  customerId?: string;
  createdAt: string;
  lastLoginAt?: string;
}
interface Key {
  id: string | number;
  name: string;
  role: Role;
  key?: string;
  createdAt: string;
  expiresAt?: string;
}
interface AuditEntry {
  id: string | number;
  time: string;
  principal: string;
  role: string;
  keyId?: string | number;
  method: string;
  route: string;
  target?: string;
  status: number;
  ip: string;
  requestId: string;
}

function list<T>(v: unknown, key: string): T[] {
  if (Array.isArray(v)) return v as T[];
  const o = v as Record<string, unknown> | null;
  return (o && Array.isArray(o[key]) ? o[key] : []) as T[];
}

function NoAccounts() {
  return <Notice kind="info">This server has no accounts (built before issue 9, or auth is disabled): there is nothing to manage here.</Notice>;
}

export function Users() {
  const session = useSession();
  const users = useAsync(() => request<unknown>("GET", "/api/users"), []);
  const [form, setForm] = useState({ username: "", password: "", role: "viewer" as Role, email: "", customerId: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [msg, setMsg] = useState<{ kind: "ok" | "bad"; text: string } | null>(null);
  const [del, setDel] = useState<User | null>(null);
  if (!session.accounts) return (<div><PageTitle>Users</PageTitle><NoAccounts /></div>);

  async function create(e: Event) {
    e.preventDefault();
    const es: Record<string, string> = {};
    if (!form.username) es.username = "required";
    if ([...form.password].length < 12) es.password = "at least 12 characters";
    setErrors(es);
    if (Object.keys(es).length) return;
    try {
      const body: Record<string, string> = { username: form.username, password: form.password, role: form.role };
      if (form.email) body.email = form.email;
      if (form.role === "customer" && form.customerId) body.customerId = form.customerId;
      await request("POST", "/api/users", body);
      setMsg({ kind: "ok", text: `User ${form.username} created.` });
      setForm({ username: "", password: "", role: "viewer", email: "", customerId: "" });
      users.reload();
    } catch (x) {
      const a = x as ApiError;
      const fe: Record<string, string> = {};
      a.problem?.errors?.forEach((f) => (fe[f.field] = f.message));
      setErrors(fe);
      setMsg({ kind: "bad", text: a.message });
    }
  }

  async function patch(u: User, body: Partial<User>) {
    try {
      await request("PATCH", "/api/users/" + encodeURIComponent(String(u.id)), body);
      users.reload();
    } catch (x) {
      setMsg({ kind: "bad", text: (x as Error).message });
    }
  }

  async function remove() {
    if (!del) return;
    try {
      await request("DELETE", "/api/users/" + encodeURIComponent(String(del.id)));
      setMsg({ kind: "ok", text: `User ${del.username} deleted.` });
      users.reload();
    } catch (x) {
      setMsg({ kind: "bad", text: (x as Error).message });
    }
    setDel(null);
  }

  const rows = list<User>(users.data, "users");
  const input = (k: keyof typeof form, label: string, type = "text", auto = "off") => (
    <Field label={label} error={errors[k]}>
      {(id, d, bad) => (
        <input id={id} type={type as "text"} autocomplete={auto} aria-describedby={d} aria-invalid={bad} value={form[k]} onInput={(e) => setForm({ ...form, [k]: e.currentTarget.value })} />
      )}
    </Field>
  );
  return (
    <div>
      <PageTitle>Users</PageTitle>
      {msg && <Notice kind={msg.kind}>{msg.text}</Notice>}
      <ErrorNotice error={users.error} />
      {!users.data ? (
        !users.error && <Loading />
      ) : (
        <div class="table-wrap">
          <table aria-label="users">
            <thead>
              <tr>
                <th>User</th>
                <th>Role</th>
                <th>Status</th>
                <th>Customer</th>
                <th>Created</th>
                <th>Last sign-in</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((u) => (
                <tr key={u.id}>
                  <td>
                    {u.username}
                    {u.email && <div class="muted small">{u.email}</div>}
                  </td>
                  <td>
                    <label class="sr-only" for={"role-" + u.id}>
                      Role of {u.username}
                    </label>
                    <select id={"role-" + u.id} value={u.role} onChange={(e) => patch(u, { role: e.currentTarget.value as Role })}>
                      {ROLES.map((r) => (
                        <option key={r}>{r}</option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <Badge value={u.status === "active" ? "OK" : "CANCELLED"} /> <span class="small">{u.status}</span>
                  </td>
                  <td>{u.customerId ?? "—"}</td>
                  <td class="small nowrap">{dateTime(u.createdAt)}</td>
                  <td class="small nowrap">{dateTime(u.lastLoginAt)}</td>
                  <td class="nowrap">
                    <button type="button" class="link" onClick={() => patch(u, { status: u.status === "active" ? "disabled" : "active" })}>
                      {u.status === "active" ? "Disable" : "Enable"}
                    </button>
                    <button type="button" class="link" onClick={() => setDel(u)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="panel" style="margin-top:14px" onSubmit={create} noValidate aria-labelledby="nu-h">
        <h2 id="nu-h" style="margin-top:0">
          New user
        </h2>
        <div class="row">
          {input("username", "User name")}
          {input("password", "Password", "password", "new-password")}
          {input("email", "E-mail (optional)", "email")}
          <Field label="Role">
            {(id) => (
              <select id={id} value={form.role} onChange={(e) => setForm({ ...form, role: e.currentTarget.value as Role })}>
                {ROLES.map((r) => (
                  <option key={r}>{r}</option>
                ))}
              </select>
            )}
          </Field>
          {form.role === "customer" && input("customerId", "Customer id (default: the user name)")}
          <button type="submit" class="primary">
            Create user
          </button>
        </div>
      </form>
      <Confirm open={!!del} title={"Delete user " + (del?.username ?? "") + "?"} confirmLabel="Delete" danger onConfirm={remove} onCancel={() => setDel(null)}>
        <p>The user can no longer sign in; their refresh tokens are revoked.</p>
      </Confirm>
    </div>
  );
}

export function Keys() {
  const session = useSession();
  const keys = useAsync(() => request<unknown>("GET", "/api/keys"), []);
  const [form, setForm] = useState({ name: "", role: "viewer" as Role, expiresAt: "" });
  const [created, setCreated] = useState<Key | null>(null);
  const [msg, setMsg] = useState<{ kind: "ok" | "bad"; text: string } | null>(null);
  const [del, setDel] = useState<Key | null>(null);
  if (!session.accounts) return (<div><PageTitle>API keys</PageTitle><NoAccounts /></div>);

  async function create(e: Event) {
    e.preventDefault();
    if (!form.name) return setMsg({ kind: "bad", text: "A key needs a name." });
    try {
      const body: Record<string, string> = { name: form.name, role: form.role };
      if (form.expiresAt) body.expiresAt = new Date(form.expiresAt).toISOString();
      const k = await request<Key>("POST", "/api/keys", body);
      setCreated(k);
      setMsg(null);
      keys.reload();
    } catch (x) {
      setMsg({ kind: "bad", text: (x as Error).message });
    }
  }
  async function revoke() {
    if (!del) return;
    try {
      await request("DELETE", "/api/keys/" + encodeURIComponent(String(del.id)));
      setMsg({ kind: "ok", text: `Key ${del.name} revoked.` });
      keys.reload();
    } catch (x) {
      setMsg({ kind: "bad", text: (x as Error).message });
    }
    setDel(null);
  }
  const rows = list<Key>(keys.data, "keys");
  return (
    <div>
      <PageTitle>API keys</PageTitle>
      {msg && <Notice kind={msg.kind}>{msg.text}</Notice>}
      {created?.key && (
        <Notice kind="warn">
          Key <strong>{created.name}</strong> created. Copy it now, it is shown only once: <code>{created.key}</code>
        </Notice>
      )}
      <ErrorNotice error={keys.error} />
      {!keys.data ? (
        !keys.error && <Loading />
      ) : (
        <div class="table-wrap">
          <table aria-label="API keys">
            <thead>
              <tr>
                <th>Name</th>
                <th>Role</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td>{k.role}</td>
                  <td class="small">{dateTime(k.createdAt)}</td>
                  <td class="small">{k.expiresAt ? dateTime(k.expiresAt) : "never"}</td>
                  <td>
                    <button type="button" class="link" onClick={() => setDel(k)}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="panel row" style="margin-top:14px" onSubmit={create} aria-label="new API key">
        <Field label="Name">{(id) => <input id={id} value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />}</Field>
        <Field label="Role">
          {(id) => (
            <select id={id} value={form.role} onChange={(e) => setForm({ ...form, role: e.currentTarget.value as Role })}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Expires (optional)">
          {(id) => <input id={id} type="datetime-local" value={form.expiresAt} onInput={(e) => setForm({ ...form, expiresAt: e.currentTarget.value })} />}
        </Field>
        <button type="submit" class="primary">
          Create key
        </button>
      </form>
      <Confirm open={!!del} title={"Revoke key " + (del?.name ?? "") + "?"} confirmLabel="Revoke" danger onConfirm={revoke} onCancel={() => setDel(null)}>
        <p>Requests with this key are refused from now on.</p>
      </Confirm>
    </div>
  );
}

export function Audit() {
  const session = useSession();
  const [f, setF] = useState({ principal: "", target: "" });
  const [q, setQ] = useState(f);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const res = useAsync(() => {
    const p = new URLSearchParams({ limit: "50" });
    if (q.principal) p.set("principal", q.principal);
    if (q.target) p.set("target", q.target);
    if (cursor) p.set("cursor", cursor);
    return request<{ entries: AuditEntry[]; nextCursor?: string }>("GET", "/api/audit?" + p);
  }, [q, cursor]);
  if (!session.accounts) return (<div><PageTitle>Audit</PageTitle><NoAccounts /></div>);
  return (
    <div>
      <PageTitle>Audit</PageTitle>
      <form
        class="panel row"
        role="search"
        aria-label="search the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          setCursors([undefined]);
          setQ({ ...f });
        }}
      >
        <Field label="Principal">{(id) => <input id={id} value={f.principal} onInput={(e) => setF({ ...f, principal: e.currentTarget.value })} />}</Field>
        <Field label="Target">{(id) => <input id={id} value={f.target} onInput={(e) => setF({ ...f, target: e.currentTarget.value })} />}</Field>
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      <ErrorNotice error={res.error} />
      {!res.data ? (
        !res.error && <Loading />
      ) : (
        <>
          <div class="table-wrap">
            <table aria-label="audit log">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Principal</th>
                  <th>Request</th>
                  <th>Target</th>
                  <th class="num">Status</th>
                  <th>From</th>
                </tr>
              </thead>
              <tbody>
                {(res.data.entries ?? []).map((a) => (
                  <tr key={a.id}>
                    <td class="small nowrap">{dateTime(a.time)}</td>
                    <td>
                      {a.principal} <span class="badge b-muted">{a.role}</span>
                      {a.keyId !== undefined && <div class="muted small">key {a.keyId}</div>}
                    </td>
                    <td class="mono small">
                      {a.method} {a.route}
                    </td>
                    <td class="mono small">{a.target ?? "—"}</td>
                    <td class="num">
                      <span class={"badge " + (a.status < 400 ? "b-ok" : a.status < 500 ? "b-warn" : "b-bad")}>{a.status}</span>
                    </td>
                    <td class="small">
                      {a.ip}
                      <div class="muted mono">{a.requestId}</div>
                    </td>
                  </tr>
                ))}
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
    </div>
  );
}
