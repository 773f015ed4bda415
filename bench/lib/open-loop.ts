/**
 * The open-loop scheduler shared by the bench load generators (bench/fixtures/h2-open-load.ts,
 * http-load.ts, grpc-load.ts): warm-up, then a measured window in which sends are spread evenly by
 * the clock (one every 1/rate s) whether or not earlier ones answered. Each send is handed its
 * INTENDED time, so the generator measures latency from it (no coordinated omission); how far the
 * loop itself fell behind its schedule goes into `sendLag`. Bounded by `durationMs` and
 * `maxRequests`, then at most 10 s for outstanding sends.
 */
import { performance } from "node:perf_hooks";
import * as hdr from "hdr-histogram-js";

/** Latency percentiles in microseconds. */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
  readonly count: number;
}

/** An HDR histogram of µs values from 1 µs to 120 s, 3 significant digits. */
export function createLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** The percentiles the bench reports, from a µs histogram. */
export function summariseLatency(h: hdr.Histogram): LatencySummary {
  return {
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    mean: h.mean,
    count: h.totalCount,
  };
}

/** Microseconds from `from` to `to` (performance.now() ms), at least 1 so HDR records it. */
export function elapsedUs(from: number, to: number = performance.now()): number {
  return Math.max(1, Math.round((to - from) * 1000));
}

/** What one open-loop run does. */
export interface OpenLoopOptions {
  /** Sends per second, evenly spaced. */
  readonly rate: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Hard cap on sends in the measured window. */
  readonly maxRequests: number;
  /**
   * Most sends outstanding at once; a send due beyond it is skipped and, when measured, counted
   * as dropped. Without it every due send goes out (the generator queues, e.g. in an HTTP agent).
   */
  readonly maxOutstanding?: number;
  /**
   * How the loop waits for the next due send. `"timer"`: setTimeout when it is more than ~1.5 ms
   * away (timers are ~1 ms granular), setImmediate when closer. `"immediate"`: always
   * setImmediate, i.e. a busy loop that still lets I/O run in between (spends the whole core).
   */
  readonly sleep?: "timer" | "immediate";
  /**
   * Starts one send intended at `intended` (performance.now() ms). `measured` says whether it is
   * in the measured window. The sender must call `done` exactly once when the send has finished.
   */
  readonly send: (intended: number, measured: boolean, done: () => void) => void;
  /** Called once, when the measured window starts. */
  readonly onMeasuring?: () => void;
}

/** What the scheduler itself counted; the sender keeps its own outcome counts. */
export interface OpenLoopRun {
  /** Sends due in the measured window (including dropped ones). */
  readonly sent: number;
  /** Measured sends skipped because `maxOutstanding` were outstanding. */
  readonly dropped: number;
  /** How late measured sends left compared with their schedule, µs. */
  readonly sendLag: hdr.Histogram;
  /** performance.now() when the measured window started. */
  readonly measureStart: number;
  /** performance.now() when the schedule was due to end. */
  readonly end: number;
  /** performance.now() once the outstanding sends finished (or the 10 s bound ran out). */
  readonly finishedAt: number;
  /** This process's CPU since `measureStart`, taken at `finishedAt`. */
  readonly cpu: NodeJS.CpuUsage;
}

/** Runs the open-loop schedule until its bounds, then waits (at most 10 s) for outstanding sends. */
export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopRun> {
  if (!(options.rate > 0)) throw new RangeError(`rate must be > 0, got ${options.rate}`);
  const maxOutstanding = options.maxOutstanding ?? Number.POSITIVE_INFINITY;
  const sendLag = createLatencyHistogram();
  let measuring = false;
  let outstanding = 0;
  let sent = 0;
  let dropped = 0;
  const done = (): void => {
    outstanding--;
  };

  const warmupEnd = performance.now() + options.warmupMs;
  const end = warmupEnd + options.durationMs;
  let measureStart = warmupEnd;
  let cpuStart = process.cpuUsage();
  const interval = 1000 / options.rate;
  let intended = performance.now();

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (!measuring && now >= warmupEnd) {
        measuring = true;
        measureStart = now;
        cpuStart = process.cpuUsage();
        options.onMeasuring?.();
      }
      while (intended <= now && intended < end && sent < options.maxRequests) {
        const at = intended;
        const measured = measuring && at >= measureStart;
        intended += interval;
        if (measured) {
          sent++;
          sendLag.recordValue(elapsedUs(at, now));
        }
        if (outstanding >= maxOutstanding) {
          if (measured) dropped++;
          continue;
        }
        outstanding++;
        options.send(at, measured, done);
      }
      if (now < end && sent < options.maxRequests) {
        if (options.sleep === "immediate") {
          setImmediate(tick);
          return;
        }
        // Sleep until the next send is due: timers are ~1 ms granular, so closer than that the
        // loop yields with setImmediate (I/O still runs in between).
        const wait = intended - performance.now();
        if (wait > 1.5) setTimeout(tick, Math.floor(wait - 0.5));
        else setImmediate(tick);
        return;
      }
      const deadline = performance.now() + 10_000;
      const poll = (): void => {
        if (outstanding === 0 || performance.now() > deadline) resolve();
        else setTimeout(poll, 5);
      };
      poll();
    };
    tick();
  });

  const finishedAt = performance.now();
  return { sent, dropped, sendLag, measureStart, end, finishedAt, cpu: process.cpuUsage(cpuStart) };
}
