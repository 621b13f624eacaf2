/**
 * The whole machine's CPU time (Linux /proc/stat), to tell a side that is held back by CPU (the
 * machine busy, the lab's servers included) from one held back by waiting (cores left idle).
 */
import { readFileSync } from 'node:fs';

export interface MachineCpu {
  /** Seconds of CPU time spent busy, summed over every core. */
  readonly busy: number;
  /** Seconds of CPU time idle (iowait included), summed over every core. */
  readonly idle: number;
}

const TICKS_PER_SECOND = 100;

/** Cumulative counters since boot; NaN where /proc/stat is not available. */
export function machineCpu(): MachineCpu {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    return { busy: (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND, idle: (idle + iowait) / TICKS_PER_SECOND };
  } catch {
    return { busy: Number.NaN, idle: Number.NaN };
  }
}

/** Average number of cores busy between two readings. */
export function busyCores(before: MachineCpu, after: MachineCpu, seconds: number): number {
  return (after.busy - before.busy) / seconds;
}

/**
 * CPU seconds a process has used, its reaped children included (Linux /proc/<pid>/stat: utime,
 * stime, cutime, cstime); PostgreSQL's per-connection backends count towards the postmaster once
 * they exit. NaN where the process or /proc is not there.
 */
export function processCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after it start past its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // utime, stime, cutime, cstime are fields 14..17: 11..14 after the name.
    return ((fields[11] ?? 0) + (fields[12] ?? 0) + (fields[13] ?? 0) + (fields[14] ?? 0)) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}
