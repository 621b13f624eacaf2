/**
 * A file's access per day (GET /inventory/files/... `access`) as a uPlot chart: reads and writes
 * over every location shown, day by day. Loaded lazily, like the Overview's chart.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface AccessSeries {
  /** Day starts, seconds since the epoch, ascending. */
  readonly t: readonly number[];
  readonly reads: readonly number[];
  readonly writes: readonly number[];
}

export default function AccessChart({ series, label }: { readonly series: AccessSeries; readonly label: string }) {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = box.current;
    if (element === null) return undefined;
    const width = () => Math.max(240, element.clientWidth);
    const chart = new uPlot(
      {
        width: width(),
        height: 180,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(3, Math.ceil(max * 1.2))] } },
        axes: [{ stroke: '#374151', grid: { stroke: '#e5e7eb' } }, { stroke: '#374151', grid: { stroke: '#e5e7eb' }, label: 'per day', size: 50 }],
        series: [
          { label: 'day' },
          { label: 'reads', stroke: '#1d4ed8', width: 2, points: { show: true, size: 5 } },
          { label: 'writes', stroke: '#b45309', width: 2, points: { show: true, size: 5 } },
        ],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      },
      [series.t as number[], series.reads as number[], series.writes as number[]],
      element,
    );
    const observer = new ResizeObserver(() => chart.setSize({ width: width(), height: 180 }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
    };
  }, [series]);

  return <div ref={box} className="chart" role="img" aria-label={label} />;
}
