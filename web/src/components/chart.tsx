// Time-series and bar charts with uPlot: sized to their container, colours
// from the theme's CSS variables (rebuilt when the theme changes).
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { onThemeChange } from "../theme";

export interface Series {
  label: string;
  values: (number | null)[];
  color?: string; // a CSS variable name, e.g. "--accent"
  unit?: string;
}

const PALETTE = ["--accent", "--ok", "--warn", "--bad", "--info", "--muted"];

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** x: seconds since the epoch.  bars: draw columns (orders by hour). */
export function Chart(props: { title: string; x: number[]; series: Series[]; height?: number; bars?: boolean; xTime?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const height = props.height ?? 200;

  function data(): uPlot.AlignedData {
    return [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData;
  }

  function build(): void {
    const el = box.current;
    if (!el) return;
    plot.current?.destroy();
    const text = cssVar("--text"), grid = cssVar("--border");
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(260, el.clientWidth),
      height,
      title: props.title,
      scales: { x: { time: props.xTime !== false } },
      axes: [axis, { ...axis, size: 56 }],
      legend: { show: true },
      cursor: { points: { show: false } },
      series: [
        {},
        ...props.series.map((s, i) => {
          const color = cssVar(s.color ?? PALETTE[i % PALETTE.length]);
          return {
            label: s.label,
            stroke: color,
            width: 2,
            fill: props.bars ? color + "88" : undefined,
            paths: props.bars ? uPlot.paths.bars!({ size: [0.7, 60] }) : undefined,
            points: { show: false },
            spanGaps: false,
            value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? "—" : v.toFixed(v < 10 ? 2 : 0) + (s.unit ?? "")),
          };
        }),
      ],
    };
    plot.current = new uPlot(opts, data(), el);
  }

  useEffect(() => {
    build();
    const ro = new ResizeObserver(() => {
      const el = box.current;
      if (el && plot.current) plot.current.setSize({ width: Math.max(260, el.clientWidth), height });
    });
    if (box.current) ro.observe(box.current);
    const off = onThemeChange(build);
    return () => {
      ro.disconnect();
      off();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [props.series.length, props.title]);

  useEffect(() => {
    plot.current?.setData(data());
  });

  return <div class="chart" ref={box} role="img" aria-label={props.title + " chart"} />;
}
