import { describe, expect, it } from 'vitest';
import { DEFAULT_ANOMALY_THRESHOLD } from './detector.ts';
import { DeviceDetectors } from './devices.ts';
import { sensorSeries } from './synthetic.ts';

describe('DeviceDetectors', () => {
  it('keeps at most maxDevices detectors, evicting the least recently seen', () => {
    const devices = new DeviceDetectors({ maxDevices: 3 });
    devices.observe('a', 1, 1);
    devices.observe('b', 1, 1);
    devices.observe('c', 1, 1);
    expect(devices.size).toBe(3);
    expect(devices.evictions).toBe(0);
    devices.observe('a', 2, 1); // a is now the most recently seen: b is the oldest
    devices.observe('d', 1, 1);
    expect(devices.size).toBe(3);
    expect(devices.evictions).toBe(1);
    expect(devices.has('b')).toBe(false);
    expect(['a', 'c', 'd'].every((id) => devices.has(id))).toBe(true);
    for (let i = 0; i < 1000; i++) devices.observe(`sensor-${i}`, 1, i);
    expect(devices.size).toBe(3);
    expect(devices.evictions).toBe(1001);
    expect(devices.stateBytes).toBeLessThanOrEqual(3 * 140 * 1024);
  });

  it('gives each device its own detector and flags at the threshold', () => {
    const devices = new DeviceDetectors({ maxDevices: 10 });
    expect(devices.threshold).toBe(DEFAULT_ANOMALY_THRESHOLD);
    const faulty = sensorSeries({ seed: 1, length: 2100, fault: 'spike', at: 2000 });
    const clean = sensorSeries({ seed: 2, length: 2100, fault: 'none' });
    const flags: Record<string, number[]> = { faulty: [], clean: [] };
    for (let i = 0; i < 2100; i++) {
      // Interleaved: the clean device's events between the faulty one's must not disturb it.
      const f = devices.observe('faulty', faulty.timestamps[i]!, faulty.values[i]!);
      const c = devices.observe('clean', clean.timestamps[i]!, clean.values[i]!);
      expect(f.flagged).toBe(f.score >= DEFAULT_ANOMALY_THRESHOLD);
      if (f.flagged) flags['faulty']!.push(i);
      if (c.flagged) flags['clean']!.push(i);
    }
    expect(flags['faulty']).toContain(2000);
    expect(flags['clean']!.filter((i) => i >= 1990)).toEqual([]);
    // A custom threshold: 0 flags everything, even warm-up scores of 0.
    expect(new DeviceDetectors({ threshold: 0 }).observe('x', 0, 1).flagged).toBe(true);
  });

  it('does not learn late events: they score 0, unflagged, and are counted', () => {
    const devices = new DeviceDetectors();
    const reference = new DeviceDetectors();
    const { timestamps, values } = sensorSeries({ seed: 4, length: 1200, fault: 'none' });
    for (let i = 0; i < 1000; i++) {
      devices.observe('d', timestamps[i]!, values[i]!);
      reference.observe('d', timestamps[i]!, values[i]!);
    }
    const late = devices.observe('d', timestamps[10]!, 1e9);
    expect(late).toEqual({ score: 0, flagged: false, late: true });
    expect(devices.lateEvents).toBe(1);
    // Same timestamp as the latest is in order.
    expect(devices.observe('d', timestamps[999]!, values[999]!).late).toBe(false);
    reference.observe('d', timestamps[999]!, values[999]!);
    // The late value left no trace: the two stay identical afterwards.
    for (let i = 1000; i < 1200; i++) expect(devices.observe('d', timestamps[i]!, values[i]!).score).toBe(reference.observe('d', timestamps[i]!, values[i]!).score);
  });

  it('refuses a nonsensical cap', () => {
    expect(() => new DeviceDetectors({ maxDevices: 0 })).toThrow(RangeError);
  });
});
