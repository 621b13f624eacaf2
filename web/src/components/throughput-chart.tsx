/**
 * The live feed as a uPlot chart: events per second by type, or MiB per second in (writes) and
 * out (completed reads). Loaded lazily (React.lazy): uPlot is the page's largest dependency and
 * the Overview paints its figures without it.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Throughput } from '../api/live.ts';

const EVENT_SERIES = [
  { key: 'access', label: 'access events', stroke: '#1d4ed8' },
  { key: 'reading', label: 'sensor readings', stroke: '#047857' },
  { key: 'alert', label: 'alerts', stroke: '#b91c1c' },
] as const;
const BYTE_SERIES = [
  { key: 'in', label: 'in (writes)', stroke: '#7c3aed' },
  { key: 'out', label: 'out (reads)', stroke: '#c2410c' },
] as const;
const MIB = 1024 * 1024;

export type ChartMode = 'events' | 'bytes';

function seriesOf(mode: ChartMode): ReadonlyArray<{ readonly label: string; readonly stroke: string }> {
  return mode === 'events' ? EVENT_SERIES : BYTE_SERIES;
}

function dataOf(throughput: Throughput, mode: ChartMode): uPlot.AlignedData {
  if (mode === 'bytes') return [throughput.t as number[], ...BYTE_SERIES.map((s) => throughput.bytes[s.key].map((b) => b / MIB))];
  return [throughput.t as number[], ...EVENT_SERIES.map((s) => throughput.counts[s.key] as number[])];
}

export default function ThroughputChart({ throughput, mode = 'events' }: { readonly throughput: Throughput; readonly mode?: ChartMode }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = box.current;
    if (element === null) return undefined;
    const width = () => Math.max(240, element.clientWidth);
    const chart = new uPlot(
      {
        width: width(),
        height: 200,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, mode === 'bytes' ? Math.max(1, max * 1.2) : Math.max(5, Math.ceil(max * 1.2))] } },
        axes: [{ stroke: '#374151', grid: { stroke: '#e5e7eb' } }, { stroke: '#374151', grid: { stroke: '#e5e7eb' }, label: mode === 'bytes' ? 'MiB/s' : 'events/s', size: 50 }],
        series: [{ label: 'time' }, ...seriesOf(mode).map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: false } }))],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      },
      dataOf(throughput, mode),
      element,
    );
    plot.current = chart;
    const observer = new ResizeObserver(() => chart.setSize({ width: width(), height: 200 }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // Created once per mode: the data follows in the effect below.
  }, [mode]);

  useEffect(() => {
    plot.current?.setData(dataOf(throughput, mode));
  }, [throughput, mode]);

  const last = throughput.t.length - 1;
  const label =
    mode === 'bytes'
      ? `Live MiB per second over the last minute: ${((throughput.bytes.in[last] ?? 0) / MIB).toFixed(2)} in and ${((throughput.bytes.out[last] ?? 0) / MIB).toFixed(2)} out in the last second`
      : `Live events per second over the last minute: ${throughput.lastSecond} in the last second`;
  return <div ref={box} className="chart" role="img" aria-label={label} />;
}
