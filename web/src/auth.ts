// The session: who is signed in and what the role may do.  Sign-in uses
// POST /api/login with "session": true, so the tokens travel only in
// HttpOnly, SameSite=Strict cookies that page scripts cannot read; state-
// changing calls carry Origin (fetch sends it) and a JSON Content-Type.
// A server without accounts (no /api/me) is treated as "everything allowed".
import { useEffect, useState } from "preact/hooks";
import { ApiError, request } from "./api/client";

export type Role = "admin" | "operator" | "viewer" | "customer";
export interface Me {
  id?: string | number;
  username: string;
  email?: string;
  role: Role;
  status?: string;
  customerId?: string;
  createdAt?: string;
  lastLoginAt?: string;
}

export interface Session {
  loaded: boolean;
  accounts: boolean; // the server has accounts (issue 9)
  me: Me | null;
}

let session: Session = { loaded: false, accounts: true, me: null };
const listeners = new Set<() => void>();
function set(s: Session): void {
  session = s;
  listeners.forEach((l) => l());
}

export function currentSession(): Session {
  return session;
}

export async function loadSession(): Promise<Session> {
  try {
    const me = await request<Me>("GET", "/api/me");
    set({ loaded: true, accounts: true, me });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      // no accounts in this build: one implicit user who may do everything
      set({ loaded: true, accounts: false, me: { username: "local", role: "admin" } });
    } else {
      set({ loaded: true, accounts: true, me: null });
    }
  }
  return session;
}

export async function login(username: string, password: string): Promise<void> {
  const body: Record<string, unknown> = { password, session: true };
  if (username.includes("@")) body.email = username;
  else body.username = username;
  await request("POST", "/api/login", body);
  await loadSession();
}

export async function logout(): Promise<void> {
  try {
    await request("POST", "/api/logout", {});
  } finally {
    set({ loaded: true, accounts: session.accounts, me: null });
  }
}

export function signedOut(): void {
  if (session.accounts && session.me) set({ loaded: true, accounts: true, me: null });
}

export function useSession(): Session {
  const [, tick] = useState(0);
  useEffect(() => {
    const l = () => tick((n) => n + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return session;
}

/* What each role may do: the console hides what a role cannot do (the API
 * refuses it anyway).  Mirrors the server's role table (x-roles in
 * /api/openapi.json). */
export type Action =
  | "ops:read" // dashboard, queues, events, rules, alarms
  | "orders:create"
  | "orders:cancel"
  | "products:create"
  | "products:restock"
  | "products:delete"
  | "queues:redrive"
  | "queues:purge"
  | "queues:attributes"
  | "queues:delete"
  | "events:replay"
  | "functions:control"
  | "admin";

const ALLOWED: Record<Action, Role[]> = {
  "ops:read": ["admin", "operator", "viewer"],
  "orders:create": ["admin", "customer"],
  "orders:cancel": ["admin", "customer"],
  "products:create": ["admin"],
  "products:restock": ["admin", "operator"],
  "products:delete": ["admin"],
  "queues:redrive": ["admin", "operator"],
  "queues:purge": ["admin", "operator"],
  "queues:attributes": ["admin"],
  "queues:delete": ["admin"],
  "events:replay": ["admin", "operator"],
  "functions:control": ["admin", "operator"],
  admin: ["admin"],
};

export function can(action: Action, s: Session = session): boolean {
  return !!s.me && ALLOWED[action].includes(s.me.role);
}
