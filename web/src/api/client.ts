// The typed API client: openapi-fetch over the types generated from the
// server's own description (src/http/openapi.json -> schema.d.ts at build
// time), so a path, parameter or field the server does not have is a
// compile error.  Errors arrive as problem+json and become ApiError.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Order = Schemas["Order"];
export type Product = Schemas["Product"];
export type Queue = Schemas["Queue"];
export type BrowsedMessage = Schemas["BrowsedMessage"];
export type Alarm = Schemas["Alarm"];
export type LoggedEvent = Schemas["LoggedEvent"];
export type Rule = Schemas["Rule"];
export type Fn = Schemas["Function"];
export type History = Schemas["History"];
export type Stats = Schemas["Stats"];
export type Problem = Schemas["Problem"];
export type OrderIn = Schemas["OrderIn"];
export type Timeline = Schemas["OrderTimeline"];
export type Task = Schemas["Task"];

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });

export class ApiError extends Error {
  status: number;
  problem: Problem | null;
  constructor(status: number, problem: Problem | null, fallback: string) {
    super(problem?.detail || problem?.title || fallback);
    this.status = status;
    this.problem = problem;
  }
  /** The message the server gave for a field ("items[0].qty"), if any. */
  field(name: string): string | undefined {
    return this.problem?.errors?.find((e) => e.field === name)?.message;
  }
}

type Unauthorized = () => void;
let onUnauthorized: Unauthorized = () => {};
export function setUnauthorizedHandler(fn: Unauthorized): void {
  onUnauthorized = fn;
}

/** The data of an openapi-fetch result, or throws ApiError. */
export async function must<T>(
  p: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let r;
  try {
    r = await p;
  } catch (e) {
    throw new ApiError(0, null, "the server cannot be reached (" + String(e) + ")");
  }
  if (r.response.ok) return r.data as T;
  if (r.response.status === 401) onUnauthorized();
  const err = r.error as Problem | undefined;
  throw new ApiError(
    r.response.status,
    err && typeof err === "object" ? err : null,
    r.response.status + " " + r.response.statusText,
  );
}

/** Requests outside the generated types (accounts, until the description has them). */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, null, "the server cannot be reached (" + String(e) + ")");
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, json as Problem | null, res.status + " " + res.statusText);
  }
  return json as T;
}

/** Follows a background task (a replay, a redrive) until it is no longer
 * RUNNING, calling onProgress with each answer. */
export async function followTask(id: string, onProgress?: (t: Task) => void): Promise<Task> {
  for (;;) {
    const t = await must(api.GET("/api/tasks/{id}", { params: { path: { id } } }));
    onProgress?.(t);
    if (t.state !== "RUNNING") return t;
    await new Promise((r) => setTimeout(r, 250));
  }
}
