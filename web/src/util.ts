// Formatting and a small data-loading hook shared by the pages.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export function money(cents: number | null | undefined): string {
  if (cents === null || cents === undefined) return "—";
  return (cents / 100).toLocaleString(undefined, { style: "currency", currency: "USD" });
}

export function num(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function ago(iso: string | null | undefined): string {
  if (!iso) return "—";
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

export function duration(seconds: number): string {
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.round(seconds / 60) + " min";
  return (seconds / 3600).toFixed(1) + " h";
}

export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
  set: (t: T) => void;
}

/** Loads with fn when deps change; reload() fetches again (keeping what is shown). */
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const reload = useCallback(() => {
    const my = ++seq.current;
    setLoading(true);
    fnRef.current().then(
      (d) => {
        if (my !== seq.current) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: Error) => {
        if (my !== seq.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, []);
  useEffect(reload, deps);
  return { data, error, loading, reload, set: setData };
}

export const ORDER_STATUSES = [
  "PENDING",
  "RESERVED",
  "COMPLETED",
  "REJECTED",
  "PAYMENT_FAILED",
  "EXPIRED",
  "CANCELLED",
  "FAILED",
] as const;

export function statusClass(s: string | null | undefined): string {
  switch (s) {
    case "COMPLETED":
    case "OK":
      return "b-ok";
    case "PENDING":
    case "RESERVED":
      return "b-info";
    case "CANCELLED":
    case "EXPIRED":
    case "INSUFFICIENT_DATA":
      return "b-muted";
    case "REJECTED":
    case "PAYMENT_FAILED":
      return "b-warn";
    default:
      return "b-bad";
  }
}
