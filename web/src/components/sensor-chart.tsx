/**
 * One device's scored readings as a uPlot chart: the value (left axis), the anomaly score
 * (right axis, 0..1, with the threshold) and the flagged readings as red points. Loaded lazily,
 * like the throughput chart (uPlot is in its own chunk).
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ScoredReading } from '../api/ops-types.ts';

const HEIGHT = 170;

/** Oldest first, as uPlot wants it: time, value, score, flagged value (null where not flagged), threshold. */
export function sensorData(readings: readonly ScoredReading[], threshold: number): uPlot.AlignedData {
  const sorted = [...readings].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
  return [
    sorted.map((r) => Date.parse(r.ts) / 1000),
    sorted.map((r) => r.value),
    sorted.map((r) => r.anomaly_score),
    sorted.map((r) => (r.anomaly ? r.value : null)),
    sorted.map(() => threshold),
  ];
}

export default function SensorChart({ device, readings, threshold }: { readonly device: string; readonly readings: readonly ScoredReading[]; readonly threshold: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = box.current;
    if (element === null) return undefined;
    const width = () => Math.max(240, element.clientWidth);
    const chart = new uPlot(
      {
        width: width(),
        height: HEIGHT,
        scales: { x: { time: true }, score: { range: [0, 1] } },
        axes: [
          { stroke: '#374151', grid: { stroke: '#e5e7eb' } },
          { stroke: '#374151', grid: { stroke: '#e5e7eb' }, label: 'value', size: 56 },
          { stroke: '#7c2d12', scale: 'score', side: 1, grid: { show: false }, label: 'score', size: 46 },
        ],
        series: [
          { label: 'time' },
          { label: 'value', stroke: '#1d4ed8', width: 1.5, points: { show: false } },
          { label: 'anomaly score', stroke: '#c2410c', width: 1, scale: 'score', points: { show: false } },
          { label: 'flagged', stroke: '#b91c1c', width: 0, paths: () => null, points: { show: true, size: 9, fill: '#b91c1c', stroke: '#7f1d1d' } },
          { label: 'threshold', stroke: '#9ca3af', width: 1, dash: [4, 4], scale: 'score', points: { show: false } },
        ],
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
      },
      sensorData(readings, threshold),
      element,
    );
    plot.current = chart;
    const observer = new ResizeObserver(() => chart.setSize({ width: width(), height: HEIGHT }));
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // Created once: the data follows in the effect below.
  }, []);

  useEffect(() => {
    plot.current?.setData(sensorData(readings, threshold));
  }, [readings, threshold]);

  const flagged = readings.filter((r) => r.anomaly).length;
  return <div ref={box} className="chart" role="img" aria-label={`Readings of ${device}: ${readings.length} shown, ${flagged} flagged as anomalies`} data-flagged={flagged} />;
}
