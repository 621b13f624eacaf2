/**
 * Events per second of the live feed, as a uPlot chart. Loaded lazily (React.lazy): uPlot is the
 * page's largest dependency and the Overview paints its figures without it.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Throughput } from '../api/live.ts';

const SERIES = [
  { key: 'access', label: 'access events', stroke: '#1d4ed8' },
  { key: 'reading', label: 'sensor readings', stroke: '#047857' },
  { key: 'alert', label: 'alerts', stroke: '#b91c1c' },
] as const;

function dataOf(throughput: Throughput): uPlot.AlignedData {
  return [throughput.t as number[], ...SERIES.map((s) => throughput.counts[s.key] as number[])];
}

export default function ThroughputChart({ throughput }: { readonly throughput: Throughput }) {
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
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(5, Math.ceil(max * 1.2))] } },
        axes: [{ stroke: '#374151', grid: { stroke: '#e5e7eb' } }, { stroke: '#374151', grid: { stroke: '#e5e7eb' }, label: 'events/s', size: 50 }],
        series: [{ label: 'time' }, ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, points: { show: false } }))],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      },
      dataOf(throughput),
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
    // Created once: the data follows in the effect below.
  }, []);

  useEffect(() => {
    plot.current?.setData(dataOf(throughput));
  }, [throughput]);

  return <div ref={box} className="chart" role="img" aria-label={`Live events per second over the last minute: ${throughput.lastSecond} in the last second`} />;
}
