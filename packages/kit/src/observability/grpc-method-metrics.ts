import { Counter, Histogram, type Registry } from "prom-client";
import { statusName } from "./grpc-status-names.js";

/** go-grpc-prometheus' default handling-time buckets (Prometheus `DefBuckets`), in seconds. */
export const GRPC_HANDLING_SECONDS_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The labels of every gRPC family. */
export type GrpcMethodLabels = "grpc_type" | "grpc_service" | "grpc_method";

/**
 * One method's numbers, updated with plain arithmetic on every call. prom-client hashes the
 * label set on every `inc()`/`observe()`, even through a `labels()` child (≈ 0.4–0.8 µs each,
 * five times a call); here a call costs a few additions, and the totals reach prom-client only
 * when the registry is read (a scrape), through the families' `collect()`.
 */
export interface GrpcMethodStats {
  readonly labels: Readonly<Record<GrpcMethodLabels, string>>;
  started: number;
  received: number;
  sent: number;
  /** Calls finished, by status code. */
  readonly handled: number[];
  /** Per-bucket (not cumulative) counts of handling times; times above the last bound only count in `count`. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

/** Totals already handed to prom-client: a scrape publishes what was added since. */
interface Published {
  started: number;
  received: number;
  sent: number;
  readonly handled: number[];
}

/** The five go-grpc-prometheus families of one side (server or client) on one registry. */
export interface GrpcMethodMetrics {
  /** The stats of a method, created (and exposed from the next scrape on) at first use. */
  stats(type: string, service: string, method: string): GrpcMethodStats;
  /** Records one handling time, in seconds. */
  observe(stats: GrpcMethodStats, seconds: number): void;
}

/** Help texts of the families, as go-grpc-prometheus writes them. */
export interface GrpcFamilyHelp {
  readonly started: string;
  readonly handled: string;
  readonly received: string;
  readonly sent: string;
  readonly seconds: string;
}

/** One line of a histogram as prom-client's registry reads it. */
interface HistogramValue {
  readonly labels: { readonly le?: number | string };
  readonly sharedLabels: Readonly<Record<GrpcMethodLabels, string>>;
  readonly value: number;
  readonly metricName: string;
}

/** A histogram family as prom-client's registry reads it. */
interface HistogramSeries {
  readonly name: string;
  readonly help: string;
  readonly type: "histogram";
  readonly values: HistogramValue[];
  readonly aggregator: "sum";
}

/**
 * A histogram whose series are the methods' {@link GrpcMethodStats}: prom-client formats it
 * (names, `le` labels, `_bucket`/`_sum`/`_count`), the numbers come from the stats at read time.
 */
class MethodStatsHistogram extends Histogram<GrpcMethodLabels> {
  readonly #all: ReadonlyMap<string, GrpcMethodStats>;
  readonly #bounds: readonly number[];
  readonly #name: string;
  readonly #help: string;

  constructor(
    name: string,
    help: string,
    registry: Registry,
    bounds: readonly number[],
    all: ReadonlyMap<string, GrpcMethodStats>,
  ) {
    super({
      name,
      help,
      labelNames: ["grpc_type", "grpc_service", "grpc_method"],
      buckets: [...bounds],
      registers: [registry],
    });
    this.#all = all;
    this.#bounds = bounds;
    this.#name = name;
    this.#help = help;
  }

  /**
   * What prom-client's registry formats a histogram from (its `get()`, used for JSON and cluster
   * aggregation, reads it too): the series of every method seen, in the layout of prom-client's
   * own histogram, so the exposition text is the same as if each call had been `observe()`d.
   */
  async getForPromString(): Promise<HistogramSeries> {
    const bucket = `${this.#name}_bucket`;
    const values: HistogramValue[] = [];
    for (const stats of this.#all.values()) {
      if (stats.count === 0) continue;
      const sharedLabels = stats.labels;
      let cumulative = 0;
      this.#bounds.forEach((le, index) => {
        cumulative += stats.buckets[index] ?? 0;
        values.push({ labels: { le }, sharedLabels, value: cumulative, metricName: bucket });
      });
      values.push(
        { labels: { le: "+Inf" }, sharedLabels, value: stats.count, metricName: bucket },
        { labels: {}, sharedLabels, value: stats.sum, metricName: `${this.#name}_sum` },
        { labels: {}, sharedLabels, value: stats.count, metricName: `${this.#name}_count` },
      );
    }
    return { name: this.#name, help: this.#help, type: "histogram", values, aggregator: "sum" };
  }

  /** `registry.resetMetrics()`: the histogram starts again from zero. */
  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class has set its fields.
    if (!(#all in this)) return;
    for (const stats of this.#all.values()) {
      stats.buckets.fill(0);
      stats.sum = 0;
      stats.count = 0;
    }
  }
}

/**
 * Creates the `grpc_<side>_started_total`, `_handled_total`, `_msg_received_total`,
 * `_msg_sent_total` and `_handling_seconds` families on `registry`, fed from per-method stats.
 * A method's series appear once it has a non-zero count, as with prom-client's own counters.
 */
export function createGrpcMethodMetrics(
  registry: Registry,
  side: "server" | "client",
  help: GrpcFamilyHelp,
): GrpcMethodMetrics {
  const all = new Map<string, GrpcMethodStats>();
  const published = new Map<GrpcMethodStats, Published>();
  const labelNames: GrpcMethodLabels[] = ["grpc_type", "grpc_service", "grpc_method"];
  const bounds = GRPC_HANDLING_SECONDS_BUCKETS;

  // Counters publish the increase since the last read, so `registry.resetMetrics()` (which
  // empties them) behaves as with any prom-client counter.
  const perMethod = (name: string, text: string, field: "started" | "received" | "sent"): void => {
    new Counter({
      name,
      help: text,
      labelNames,
      registers: [registry],
      collect() {
        for (const [stats, done] of published) {
          const delta = stats[field] - done[field];
          if (delta > 0) this.inc(stats.labels, delta);
          done[field] = stats[field];
        }
      },
    });
  };
  perMethod(`grpc_${side}_started_total`, help.started, "started");
  perMethod(`grpc_${side}_msg_received_total`, help.received, "received");
  perMethod(`grpc_${side}_msg_sent_total`, help.sent, "sent");
  new Counter({
    name: `grpc_${side}_handled_total`,
    help: help.handled,
    labelNames: [...labelNames, "grpc_code"],
    registers: [registry],
    collect() {
      for (const [stats, done] of published) {
        stats.handled.forEach((count, code) => {
          const delta = count - (done.handled[code] ?? 0);
          if (delta > 0) this.inc({ ...stats.labels, grpc_code: statusName(code) }, delta);
          done.handled[code] = count;
        });
      }
    },
  });
  new MethodStatsHistogram(`grpc_${side}_handling_seconds`, help.seconds, registry, bounds, all);

  const last = bounds.length;
  return {
    stats(type, service, method) {
      const key = `${type} ${service}/${method}`;
      let stats = all.get(key);
      if (stats === undefined) {
        stats = {
          labels: { grpc_type: type, grpc_service: service, grpc_method: method },
          started: 0,
          received: 0,
          sent: 0,
          handled: [],
          buckets: new Array<number>(last).fill(0),
          sum: 0,
          count: 0,
        };
        all.set(key, stats);
        published.set(stats, { started: 0, received: 0, sent: 0, handled: [] });
      }
      return stats;
    },
    observe(stats, seconds) {
      // Same rule as prom-client: the first bucket whose bound is >= the value.
      let index = 0;
      while (index < last && seconds > (bounds[index] as number)) index++;
      if (index < last) stats.buckets[index] = (stats.buckets[index] ?? 0) + 1;
      stats.sum += seconds;
      stats.count += 1;
    },
  };
}
