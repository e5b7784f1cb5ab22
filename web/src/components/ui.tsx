// Small building blocks shared by the pages.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { useLiveState } from "../live";
import { statusClass } from "../util";

export function Badge({ value, title }: { value: string | null | undefined; title?: string }) {
  return (
    <span class={"badge " + statusClass(value)} title={title}>
      {value ?? "—"}
    </span>
  );
}

export function Card({ label, value, hint }: { label: string; value: ComponentChildren; hint?: string }) {
  return (
    <div class="card">
      <div class="label">{label}</div>
      <div class="value" data-card={label}>
        {value}
      </div>
      {hint && <div class="muted small">{hint}</div>}
    </div>
  );
}

export function Notice({ kind, children }: { kind: "ok" | "bad" | "info" | "warn"; children: ComponentChildren }) {
  return (
    <div class={"notice " + kind} role={kind === "bad" ? "alert" : "status"}>
      {children}
    </div>
  );
}

export function ErrorNotice({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error as Error;
  const status = error instanceof ApiError && error.status ? error.status + ": " : "";
  return <Notice kind="bad">{status + (e.message || String(e))}</Notice>;
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="muted" role="status">
      {what}…
    </p>
  );
}

let fieldSeq = 0;
export function useId(prefix: string): string {
  const ref = useRef<string>("");
  if (!ref.current) ref.current = prefix + "-" + ++fieldSeq;
  return ref.current;
}

/** A labelled control with its hint and error (aria-describedby). */
export function Field(props: {
  label: string;
  error?: string;
  hint?: string;
  children: (id: string, describedBy: string | undefined, invalid: boolean) => JSX.Element;
  class?: string;
}) {
  const id = useId("f");
  const desc = [props.hint ? id + "-hint" : "", props.error ? id + "-err" : ""].filter(Boolean).join(" ");
  return (
    <div class={"field " + (props.class || "")}>
      <label for={id}>{props.label}</label>
      {props.children(id, desc || undefined, !!props.error)}
      {props.hint && (
        <span class="hint" id={id + "-hint"}>
          {props.hint}
        </span>
      )}
      {props.error && (
        <span class="error" id={id + "-err"} data-error-for={props.label}>
          {props.error}
        </span>
      )}
    </div>
  );
}

export function LiveIndicator() {
  const s = useLiveState();
  const text = s === "live" ? "live" : s === "polling" ? "polling every 5 s" : "connecting";
  return (
    <span class="live" role="status" aria-live="polite" data-live={s}>
      <span class={"dot " + s} aria-hidden="true" />
      {text}
    </span>
  );
}

/** A modal confirmation; with `typed`, the user must type that text first. */
export function Confirm(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  typed?: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState("");
  const inputId = useId("confirm");
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) {
      setText("");
      d.showModal();
    } else if (!props.open && d.open) d.close();
  }, [props.open]);
  const ok = !props.typed || text === props.typed;
  return (
    <dialog ref={ref} aria-labelledby={inputId + "-t"} onCancel={props.onCancel} onClose={props.onCancel}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (ok && !props.busy) props.onConfirm();
        }}
      >
        <h2 id={inputId + "-t"}>{props.title}</h2>
        <div>{props.children}</div>
        {props.typed && (
          <div class="field" style="margin-top:10px">
            <label for={inputId}>
              Type <code>{props.typed}</code> to confirm
            </label>
            <input id={inputId} value={text} autocomplete="off" onInput={(e) => setText(e.currentTarget.value)} />
          </div>
        )}
        <div class="row" style="margin-top:14px;justify-content:flex-end">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? "danger" : "primary"} disabled={!ok || props.busy}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function Pager(props: { hasPrev: boolean; hasNext: boolean; onPrev: () => void; onNext: () => void }) {
  return (
    <nav class="row" aria-label="pages" style="margin-top:10px">
      <button type="button" disabled={!props.hasPrev} onClick={props.onPrev}>
        ← Newer
      </button>
      <button type="button" disabled={!props.hasNext} onClick={props.onNext}>
        Older →
      </button>
    </nav>
  );
}

export function PageTitle({ children, right }: { children: ComponentChildren; right?: ComponentChildren }) {
  useEffect(() => {
    const t = typeof children === "string" ? children : "";
    if (t) document.title = t + " · orderly";
  }, [children]);
  return (
    <div class="row" style="margin-bottom:10px;align-items:center">
      <h1 style="margin:0">{children}</h1>
      <span class="spacer" />
      {right}
    </div>
  );
}

export function JsonView({ value }: { value: unknown }) {
  return <pre class="mono">{JSON.stringify(value, null, 2)}</pre>;
}
