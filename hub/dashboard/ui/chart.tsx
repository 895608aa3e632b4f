// A uPlot time series: one x axis of unix seconds, one line per series.
// uPlot draws on a canvas, so the same numbers also go into a visually
// hidden table for screen readers (summary: first, last, max).
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface Series {
  label: string;
  values: (number | null)[];
}

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];

/** `window`: the x axis's [from, to] in unix seconds, so a few points sit where they belong in the hours asked for. */
export function TimeChart({ title, times, series, window, height = 180 }: { title: string; times: number[]; series: Series[]; window: [number, number]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element || times.length === 0 || series.length === 0) return;
    const plot = new uPlot(
      {
        width: Math.max(280, element.clientWidth),
        height,
        scales: { x: { time: true, range: () => window } },
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false }))],
        axes: [{ stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.2)" } }, { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,.2)" } }],
        legend: { live: false },
      },
      [times, ...series.map((s) => s.values)] as uPlot.AlignedData,
      element,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, element.clientWidth), height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, window[0], window[1], height]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {times.length === 0 || series.length === 0 ? <p class="hint">No data in this window.</p> : <div ref={box} role="img" aria-label={`${title}: ${summary(series)}`} />}
    </figure>
  );
}

function summary(series: Series[]): string {
  return series
    .map((s) => {
      const known = s.values.filter((v): v is number => v !== null);
      return known.length ? `${s.label} last ${known.at(-1)}, max ${Math.max(...known)}` : `${s.label} no data`;
    })
    .join("; ");
}
