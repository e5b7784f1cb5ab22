// Dashboard: seed 004's cards (orders today, processing rate, queue depth,
// total orders, orders by hour), live charts of the last 15 minutes (from
// /api/metrics/history, then one `metrics` event every 5 s) and the alarms'
// states at a glance.
import { useState } from "preact/hooks";
import { api, must, type Alarm, type History, type Stats } from "../api/client";
import { Chart } from "../components/chart";
import { Badge, Card, ErrorNotice, Loading, PageTitle } from "../components/ui";
import { useLive } from "../live";
import { ago, num, useAsync } from "../util";

const MAX_POINTS = 720;

type Row = {
  t: number;
  ordersPerSec: number | null;
  completionsPerSec: number | null;
  failuresPerSec: number | null;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  dlqDepth: number | null;
  commitBatchSize: number | null;
  commitsPerSec: number | null;
  queueVisible: (number | null)[];
  queueInFlight: (number | null)[];
};

/** Appends a streamed sample to the columnar history. */
function append(h: History, r: Row): History {
  if (h.series.t.length && h.series.t[h.series.t.length - 1] >= r.t) return h;
  const cut = (a: any[]) => (a.length >= MAX_POINTS ? a.slice(a.length - MAX_POINTS + 1) : a);
  const s = h.series;
  const series = {
    t: [...cut(s.t), r.t],
    ordersPerSec: [...cut(s.ordersPerSec), r.ordersPerSec],
    completionsPerSec: [...cut(s.completionsPerSec), r.completionsPerSec],
    failuresPerSec: [...cut(s.failuresPerSec), r.failuresPerSec],
    latencyP50Ms: [...cut(s.latencyP50Ms), r.latencyP50Ms],
    latencyP99Ms: [...cut(s.latencyP99Ms), r.latencyP99Ms],
    dlqDepth: [...cut(s.dlqDepth), r.dlqDepth],
    commitBatchSize: [...cut(s.commitBatchSize), r.commitBatchSize],
    commitsPerSec: [...cut(s.commitsPerSec), r.commitsPerSec],
  };
  const queues = h.queues.map((q, i) => ({
    ...q,
    visible: [...cut(q.visible), r.queueVisible[i] ?? null],
    inFlight: [...cut(q.inFlight), r.queueInFlight[i] ?? null],
  }));
  return { ...h, series, queues };
}

export function Dashboard() {
  const stats = useAsync(() => must(api.GET("/api/stats")), []);
  const hist = useAsync(() => must(api.GET("/api/metrics/history", { params: { query: { minutes: 15 } } })), []);
  const alarms = useAsync(() => must(api.GET("/api/alarms")), []);
  const [flash, setFlash] = useState(0);

  useLive((kind, data) => {
    if (kind === "metrics" && hist.data) hist.set(append(hist.data, data as Row));
    if (kind === "alarm") alarms.reload();
    if (kind === "order" && (data as { type?: string }).type === "OrderCreated") setFlash(flash + 1);
    if (kind === "metrics" && flash) {
      setFlash(0);
      stats.reload();
    }
    if (kind === "reset" || kind === "poll") {
      stats.reload();
      hist.reload();
      alarms.reload();
    }
  });

  return (
    <div>
      <PageTitle>Dashboard</PageTitle>
      <ErrorNotice error={stats.error || hist.error || alarms.error} />
      <StatsCards stats={stats.data} />
      <AlarmStrip alarms={alarms.data?.alarms} />
      {hist.data ? <Charts h={hist.data} /> : <Loading what="Loading the charts" />}
      {stats.data && <ByHour stats={stats.data} />}
    </div>
  );
}

function StatsCards({ stats }: { stats?: Stats }) {
  if (!stats) return <Loading />;
  return (
    <section aria-label="statistics" class="cards">
      <Card label="Orders today" value={num(stats.orders_today)} hint="last 24 hours" />
      <Card label="Processing rate" value={num(stats.processing_rate, 1)} hint="orders per hour, last 24 h" />
      <Card label="Queue depth" value={num(stats.queue_depth)} hint="orders queue: visible + in flight" />
      <Card label="Total orders" value={num(stats.total_orders)} />
      <Card label="Completed" value={num(stats.orders_by_status["COMPLETED"] ?? 0)} />
      <Card label="Failed" value={num(stats.orders_by_status["FAILED"] ?? 0)} hint="dead-lettered" />
    </section>
  );
}

function AlarmStrip({ alarms }: { alarms?: Alarm[] }) {
  if (!alarms) return null;
  const firing = alarms.filter((a) => a.state === "ALARM").length;
  return (
    <section class="panel" aria-labelledby="alarms-h">
      <div class="row" style="align-items:center">
        <h2 id="alarms-h" style="margin:0">
          Alarms
        </h2>
        <span class={"badge " + (firing ? "b-bad" : "b-ok")}>{firing ? firing + " in ALARM" : "none in ALARM"}</span>
        <span class="spacer" />
        <a href="/alarms">details</a>
      </div>
      <ul class="row" style="list-style:none;padding:0;margin:8px 0 0">
        {alarms.map((a) => (
          <li key={a.name} title={a.stateReason}>
            <Badge value={a.state} /> <span class="small">{a.name}</span>{" "}
            <span class="muted small">{a.lastTransition ? ago(a.lastTransition.timestamp) : ""}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Charts({ h }: { h: History }) {
  const x = h.series.t.map((t) => t / 1000);
  const work = h.queues.filter((q) => !q.deadLetterQueue);
  return (
    <section aria-label="last 15 minutes" class="grid2">
      <div class="panel">
        <Chart
          title="Orders per second"
          x={x}
          series={[
            { label: "created", values: h.series.ordersPerSec, color: "--accent" },
            { label: "completed", values: h.series.completionsPerSec, color: "--ok" },
            { label: "ended otherwise", values: h.series.failuresPerSec, color: "--bad" },
          ]}
        />
      </div>
      <div class="panel">
        <Chart
          title="HTTP latency (ms)"
          x={x}
          series={[
            { label: "p50", values: h.series.latencyP50Ms, color: "--ok", unit: " ms" },
            { label: "p99", values: h.series.latencyP99Ms, color: "--warn", unit: " ms" },
          ]}
        />
      </div>
      <div class="panel">
        <Chart
          title="Queue depth (visible + in flight)"
          x={x}
          series={work.map((q) => ({
            label: q.name,
            values: q.visible.map((v, i) => (v === null || q.inFlight[i] === null ? null : v + (q.inFlight[i] as number))),
          }))}
        />
      </div>
      <div class="panel">
        <Chart
          title="Dead letters and commits"
          x={x}
          series={[
            { label: "DLQ depth", values: h.series.dlqDepth, color: "--bad" },
            { label: "commit batch", values: h.series.commitBatchSize, color: "--info" },
          ]}
        />
      </div>
    </section>
  );
}

function ByHour({ stats }: { stats: Stats }) {
  // the last 24 hours, one bar each (hours without orders count 0)
  const counts = new Map(stats.orders_by_hour.map((r) => [r.hour, r.count]));
  const top = Math.floor(Date.now() / 3600e3) * 3600;
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 23; i >= 0; i--) {
    const t = top - i * 3600;
    const h = String(new Date(t * 1000).getUTCHours()).padStart(2, "0") + ":00";
    x.push(t);
    y.push(counts.get(h) ?? 0);
  }
  return (
    <section class="panel" aria-label="orders by hour">
      <Chart title="Orders by hour (last 24 h)" x={x} bars series={[{ label: "orders", values: y, color: "--accent" }]} height={180} />
    </section>
  );
}
