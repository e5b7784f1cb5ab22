// Queues: every queue and its dead-letter queue with visible, in flight,
// delayed, age of the oldest message and send / receive rates (from the
// counters of two successive reads, every `metrics` event or poll).
import { useRef } from "preact/hooks";
import { api, must, type Queue } from "../api/client";
import { ErrorNotice, Loading, PageTitle } from "../components/ui";
import { useLive } from "../live";
import { duration, num, useAsync } from "../util";

interface Rates {
  t: number;
  sent: Record<string, number>;
  received: Record<string, number>;
}

function dlqName(q: Queue): string | undefined {
  const arn = q.attributes.RedrivePolicy?.deadLetterTargetArn;
  return arn ? arn.split(":").pop() : undefined;
}

export function Queues() {
  const prev = useRef<Rates | null>(null);
  const rates = useRef<Record<string, { sent: number; received: number }>>({});
  const list = useAsync(async () => {
    const r = await must(api.GET("/api/queues"));
    const now = Date.now();
    const cur: Rates = { t: now, sent: {}, received: {} };
    for (const q of r.queues) {
      cur.sent[q.name] = q.stats?.sent ?? 0;
      cur.received[q.name] = q.stats?.received ?? 0;
    }
    const p = prev.current;
    if (p && now > p.t) {
      const secs = (now - p.t) / 1000;
      for (const q of r.queues)
        rates.current[q.name] = {
          sent: Math.max(0, (cur.sent[q.name] - (p.sent[q.name] ?? cur.sent[q.name])) / secs),
          received: Math.max(0, (cur.received[q.name] - (p.received[q.name] ?? cur.received[q.name])) / secs),
        };
    }
    prev.current = cur;
    return r;
  }, []);

  useLive((kind) => {
    if (kind === "metrics" || kind === "poll" || kind === "reset") list.reload();
  });

  const queues = list.data?.queues;
  const byName = new Map((queues ?? []).map((q) => [q.name, q]));
  return (
    <div>
      <PageTitle>Queues</PageTitle>
      <ErrorNotice error={list.error} />
      {!queues ? (
        <Loading />
      ) : (
        <div class="table-wrap">
          <table aria-label="queues" data-testid="queues-table">
            <thead>
              <tr>
                <th>Queue</th>
                <th class="num">Visible</th>
                <th class="num">In flight</th>
                <th class="num">Delayed</th>
                <th class="num">Oldest</th>
                <th class="num">Sent/s</th>
                <th class="num">Received/s</th>
                <th class="num">Moved to DLQ</th>
                <th>Dead-letter queue</th>
              </tr>
            </thead>
            <tbody>
              {queues.map((q) => {
                const dlq = dlqName(q);
                const d = dlq ? byName.get(dlq) : undefined;
                const r = rates.current[q.name];
                return (
                  <tr key={q.name} data-queue={q.name}>
                    <td>
                      <a href={"/queues/" + encodeURIComponent(q.name)}>{q.name}</a>
                      {q.deadLetterQueue && <span class="badge b-muted" style="margin-left:6px">DLQ</span>}
                    </td>
                    <td class="num" data-col="visible">
                      {num(q.stats?.visible)}
                    </td>
                    <td class="num">{num(q.stats?.inFlight)}</td>
                    <td class="num">{num(q.stats?.delayed)}</td>
                    <td class="num">{q.stats?.visible || q.stats?.inFlight ? duration(q.stats?.oldestAgeSeconds ?? 0) : "—"}</td>
                    <td class="num">{r ? num(r.sent, 1) : "—"}</td>
                    <td class="num">{r ? num(r.received, 1) : "—"}</td>
                    <td class="num">{num(q.stats?.movedToDlq)}</td>
                    <td>
                      {dlq ? (
                        <>
                          <a href={"/queues/" + encodeURIComponent(dlq)}>{dlq}</a>{" "}
                          <span class={"badge " + (d?.stats?.visible ? "b-bad" : "b-ok")}>{num(d?.stats?.visible ?? 0)} visible</span>{" "}
                          <span class="muted small">after {q.attributes.RedrivePolicy?.maxReceiveCount} receives</span>
                        </>
                      ) : (
                        <span class="muted">—</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
