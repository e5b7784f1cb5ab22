// Live updates: one EventSource on /api/stream shared by every page.  The
// browser reconnects by itself and sends Last-Event-ID, so nothing is missed
// across short breaks; a `reset` event (too far behind) makes pages reload.
// When the server refuses the stream (503: too many streams, or no stream
// at all) the console falls back to polling: pages get a `poll` tick every
// POLL_MS and refetch; the stream is tried again after RETRY_MS.
import { useEffect, useRef, useState } from "preact/hooks";

export type LiveState = "connecting" | "live" | "polling";
export type LiveKind = "order" | "alarm" | "metrics" | "reset" | "poll";
export type LiveHandler = (kind: LiveKind, data: any) => void;

const POLL_MS = 5000;
const RETRY_MS = 60000;

let es: EventSource | null = null;
let state: LiveState = "connecting";
let pollTimer = 0;
let retryTimer = 0;
const handlers = new Set<LiveHandler>();
const stateListeners = new Set<() => void>();

function setState(s: LiveState): void {
  if (s === state) return;
  state = s;
  stateListeners.forEach((l) => l());
}

function emit(kind: LiveKind, data: unknown): void {
  handlers.forEach((h) => {
    try {
      h(kind, data);
    } catch (e) {
      console.error(e);
    }
  });
}

function startPolling(): void {
  setState("polling");
  if (!pollTimer) pollTimer = window.setInterval(() => emit("poll", null), POLL_MS);
  if (!retryTimer)
    retryTimer = window.setTimeout(() => {
      retryTimer = 0;
      connect();
    }, RETRY_MS);
}

function stopPolling(): void {
  if (pollTimer) window.clearInterval(pollTimer);
  pollTimer = 0;
}

export function connect(): void {
  if (es) es.close();
  if (typeof EventSource === "undefined") {
    startPolling();
    return;
  }
  setState(state === "polling" ? "polling" : "connecting");
  es = new EventSource("/api/stream", { withCredentials: true });
  es.onopen = () => {
    stopPolling();
    setState("live");
    emit("reset", { reason: "connected" }); // refetch: events may have been missed before
  };
  es.onerror = () => {
    if (!es || es.readyState === EventSource.CLOSED) {
      es = null;
      startPolling(); // refused (503, 401): poll instead
    } else {
      setState("connecting"); // the browser retries with Last-Event-ID
    }
  };
  for (const kind of ["order", "alarm", "metrics", "reset"] as const)
    es.addEventListener(kind, (ev) => {
      let data: unknown = null;
      try {
        data = JSON.parse((ev as MessageEvent).data);
      } catch {
        return;
      }
      emit(kind, data);
    });
}

export function disconnect(): void {
  es?.close();
  es = null;
  stopPolling();
  if (retryTimer) window.clearTimeout(retryTimer);
  retryTimer = 0;
  setState("connecting");
}

/** Calls handler (its latest version) for every live event while the
 * component is mounted. */
export function useLive(handler: LiveHandler): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    const h: LiveHandler = (k, d) => ref.current(k, d);
    handlers.add(h);
    return () => {
      handlers.delete(h);
    };
  }, []);
}

export function useLiveState(): LiveState {
  const [, tick] = useState(0);
  useEffect(() => {
    const l = () => tick((n) => n + 1);
    stateListeners.add(l);
    return () => {
      stateListeners.delete(l);
    };
  }, []);
  return state;
}
