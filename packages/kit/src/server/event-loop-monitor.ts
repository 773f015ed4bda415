import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";

/** Event-loop delay percentiles in milliseconds since the last reset. */
export interface EventLoopDelaySnapshot {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** Measures how late the event loop runs timers: the symptom of blocking work in a handler. */
export interface EventLoopMonitor {
  /** Current percentiles (0 until the first sample). */
  snapshot(): EventLoopDelaySnapshot;
  /** Starts a new measurement window. */
  reset(): void;
  /** Stops sampling. */
  stop(): void;
}

/**
 * Starts sampling event-loop delay with `perf_hooks.monitorEventLoopDelay` every `resolutionMs`
 * (default 10). A p99 that climbs means something is blocking the loop and every call waits for
 * it; move that work to a worker pool ({@link createWorkerPool}).
 */
export function createEventLoopMonitor(options: { resolutionMs?: number } = {}): EventLoopMonitor {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: options.resolutionMs ?? 10 });
  histogram.enable();
  const ms = (ns: number): number => (Number.isFinite(ns) ? ns / 1e6 : 0);
  return {
    snapshot() {
      if (histogram.count === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
      return {
        p50Ms: ms(histogram.percentile(50)),
        p99Ms: ms(histogram.percentile(99)),
        maxMs: ms(histogram.max),
        meanMs: ms(histogram.mean),
      };
    },
    reset() {
      histogram.reset();
    },
    stop() {
      histogram.disable();
    },
  };
}
