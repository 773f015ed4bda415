import { type PromExposition, parsePrometheusText } from "../prometheus-text.js";

/** What the dashboard reads from one scrape, keyed by series. Counters are cumulative. */
export interface Snapshot {
  /** When the scrape finished, ms since the epoch. */
  readonly at: number;
  readonly series: ReadonlyMap<string, SeriesPoint>;
  readonly process: ProcessPoint;
}

/** One method or route at one scrape. */
export interface SeriesPoint {
  readonly kind: SeriesKind;
  /** `package.Service/Method` or `GET /books/:id`. */
  readonly name: string;
  /** Calls finished, by outcome (`OK`, `NOT_FOUND`, … or the HTTP status code). */
  readonly outcomes: ReadonlyMap<string, number>;
  /** Cumulative latency histogram: upper bounds (seconds, ascending, last `Infinity`) and counts. */
  readonly bounds: readonly number[];
  readonly buckets: readonly number[];
}

/** Which metric families a series comes from. */
export type SeriesKind = "grpc_server" | "grpc_client" | "http";

/** Process gauges and counters at one scrape. */
export interface ProcessPoint {
  readonly cpuSeconds: number | undefined;
  readonly residentBytes: number | undefined;
  readonly eventLoopLagP99Seconds: number | undefined;
}

interface HistogramSource {
  readonly kind: SeriesKind;
  readonly outcomeMetric: string;
  readonly outcomeLabel: string;
  readonly histogram: string;
  readonly key: (labels: Readonly<Record<string, string>>) => string | undefined;
}

const grpcKey = (labels: Readonly<Record<string, string>>): string | undefined =>
  labels.grpc_service && labels.grpc_method ? `${labels.grpc_service}/${labels.grpc_method}` : undefined;
const httpKey = (labels: Readonly<Record<string, string>>): string | undefined =>
  labels.http_request_method && labels.http_route ? `${labels.http_request_method} ${labels.http_route}` : undefined;

const SOURCES: readonly HistogramSource[] = [
  {
    kind: "grpc_server",
    outcomeMetric: "grpc_server_handled_total",
    outcomeLabel: "grpc_code",
    histogram: "grpc_server_handling_seconds",
    key: grpcKey,
  },
  {
    kind: "grpc_client",
    outcomeMetric: "grpc_client_handled_total",
    outcomeLabel: "grpc_code",
    histogram: "grpc_client_handling_seconds",
    key: grpcKey,
  },
  {
    kind: "http",
    // The HTTP histogram's _count per status code is the request counter.
    outcomeMetric: "http_server_request_duration_seconds_count",
    outcomeLabel: "http_response_status_code",
    histogram: "http_server_request_duration_seconds",
    key: httpKey,
  },
];

interface MutablePoint {
  kind: SeriesKind;
  name: string;
  outcomes: Map<string, number>;
  bucketsByBound: Map<number, number>;
}

/** Reads a {@link Snapshot} from Prometheus text as the kit's metrics write it. */
export function snapshotFromText(text: string, at: number): Snapshot {
  const exposition = parsePrometheusText(text);
  const points = new Map<string, MutablePoint>();
  const point = (kind: SeriesKind, name: string): MutablePoint => {
    const id = `${kind} ${name}`;
    let found = points.get(id);
    if (found === undefined) {
      found = { kind, name, outcomes: new Map(), bucketsByBound: new Map() };
      points.set(id, found);
    }
    return found;
  };
  for (const sample of exposition.samples) {
    for (const source of SOURCES) {
      if (sample.name === source.outcomeMetric) {
        const name = source.key(sample.labels);
        const outcome = sample.labels[source.outcomeLabel];
        if (name === undefined || outcome === undefined) continue;
        const p = point(source.kind, name);
        p.outcomes.set(outcome, (p.outcomes.get(outcome) ?? 0) + sample.value);
      } else if (sample.name === `${source.histogram}_bucket`) {
        const name = source.key(sample.labels);
        const le = sample.labels.le;
        if (name === undefined || le === undefined) continue;
        const bound = le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le);
        // HTTP series are split by status code; latency is summed over them.
        const p = point(source.kind, name);
        p.bucketsByBound.set(bound, (p.bucketsByBound.get(bound) ?? 0) + sample.value);
      }
    }
  }
  const series = new Map<string, SeriesPoint>();
  for (const [id, p] of points) {
    const bounds = [...p.bucketsByBound.keys()].sort((a, b) => a - b);
    series.set(id, {
      kind: p.kind,
      name: p.name,
      outcomes: p.outcomes,
      bounds,
      buckets: bounds.map((b) => p.bucketsByBound.get(b) ?? 0),
    });
  }
  return { at, series, process: processPoint(exposition) };
}

function single(exposition: PromExposition, names: readonly string[]): number | undefined {
  for (const name of names) {
    const found = exposition.samples.find((s) => s.name === name);
    if (found !== undefined && Number.isFinite(found.value)) return found.value;
  }
  return undefined;
}

function processPoint(exposition: PromExposition): ProcessPoint {
  return {
    cpuSeconds: single(exposition, ["process_cpu_seconds_total"]),
    residentBytes: single(exposition, ["process_resident_memory_bytes"]),
    eventLoopLagP99Seconds: single(exposition, ["nodejs_eventloop_lag_p99_seconds"]),
  };
}

/** A counter's increase between two readings; a decrease means the process restarted. */
function increase(before: number | undefined, after: number): number {
  return before === undefined || after < before ? after : after - before;
}

/**
 * The `q` quantile (0–1) of the observations between two cumulative histograms, by linear
 * interpolation inside the bucket, exactly as Prometheus' `histogram_quantile` does. `undefined`
 * when nothing was observed. Capped at the highest finite bound.
 */
export function histogramQuantile(
  q: number,
  bounds: readonly number[],
  buckets: readonly number[],
  before?: readonly number[],
): number | undefined {
  const deltas = buckets.map((count, i) => increase(before?.[i], count));
  // Cumulative counts must not decrease; a restart between scrapes can break that for one sample.
  for (let i = 1; i < deltas.length; i++) deltas[i] = Math.max(deltas[i] ?? 0, deltas[i - 1] ?? 0);
  const total = deltas[deltas.length - 1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    const count = deltas[i] ?? 0;
    if (count >= rank) {
      const upper = bounds[i] ?? 0;
      if (upper === Number.POSITIVE_INFINITY) return bounds[i - 1];
      const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
      const below = i === 0 ? 0 : (deltas[i - 1] ?? 0);
      const inBucket = count - below;
      return inBucket <= 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
    }
  }
  return bounds[bounds.length - 2];
}

/** Rates of one series over an interval. */
export interface SeriesStats {
  readonly kind: SeriesKind;
  readonly name: string;
  /** Calls (requests) finished per second. */
  readonly rps: number;
  /** Share of calls that did not end OK (gRPC) or ended 5xx (HTTP), 0–1; 0 when there were none. */
  readonly errorRate: number;
  /** Median and 99th percentile latency in ms; `null` without traffic. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Calls finished since the process started. */
  readonly total: number;
  /** Calls per outcome per second, e.g. `{ OK: 40, NOT_FOUND: 2 }`. */
  readonly outcomes: Readonly<Record<string, number>>;
}

function isError(kind: SeriesKind, outcome: string): boolean {
  return kind === "http" ? outcome.startsWith("5") : outcome !== "OK";
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** The stats of every series between `from` and `to` (the older one may be undefined: no rates yet). */
export function seriesStats(from: Snapshot | undefined, to: Snapshot): SeriesStats[] {
  const seconds = from === undefined ? 0 : (to.at - from.at) / 1000;
  const stats: SeriesStats[] = [];
  for (const [id, point] of to.series) {
    const previous = from?.series.get(id);
    let calls = 0;
    let errors = 0;
    const outcomes: Record<string, number> = {};
    for (const [outcome, count] of point.outcomes) {
      const delta = increase(previous?.outcomes.get(outcome), count);
      calls += delta;
      if (isError(point.kind, outcome)) errors += delta;
      if (seconds > 0 && delta > 0) outcomes[outcome] = delta / seconds;
    }
    const sameBounds = previous !== undefined && previous.bounds.length === point.bounds.length;
    const before = sameBounds ? previous.buckets : undefined;
    const p50 = seconds > 0 ? histogramQuantile(0.5, point.bounds, point.buckets, before) : undefined;
    const p99 = seconds > 0 ? histogramQuantile(0.99, point.bounds, point.buckets, before) : undefined;
    stats.push({
      kind: point.kind,
      name: point.name,
      rps: seconds > 0 ? calls / seconds : 0,
      errorRate: seconds > 0 && calls > 0 ? errors / calls : 0,
      p50Ms: p50 === undefined ? null : p50 * 1000,
      p99Ms: p99 === undefined ? null : p99 * 1000,
      total: sum(point.outcomes.values()),
      outcomes,
    });
  }
  return stats.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}

/** One point of a target's charts: all the series of its primary kind, merged. */
export interface ChartPoint {
  readonly t: number;
  readonly rps: number;
  readonly errorRate: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/**
 * Merges every series of kind `primary` (what the target serves: `grpc_server` for a gRPC
 * service, `http` for a web app) between two snapshots into one chart point. One kind only:
 * every series of a family has the same buckets, so their counts add up bucket by bucket.
 */
export function chartPoint(from: Snapshot, to: Snapshot, primary: SeriesKind): ChartPoint {
  const seconds = (to.at - from.at) / 1000;
  let calls = 0;
  let errors = 0;
  const bucketsByBound = new Map<number, number>();
  for (const [id, point] of to.series) {
    if (point.kind !== primary) continue;
    const previous = from.series.get(id);
    for (const [outcome, count] of point.outcomes) {
      const delta = increase(previous?.outcomes.get(outcome), count);
      calls += delta;
      if (isError(point.kind, outcome)) errors += delta;
    }
    point.bounds.forEach((bound, i) => {
      const delta = increase(previous?.buckets[i], point.buckets[i] ?? 0);
      bucketsByBound.set(bound, (bucketsByBound.get(bound) ?? 0) + delta);
    });
  }
  const bounds = [...bucketsByBound.keys()].sort((a, b) => a - b);
  const buckets = bounds.map((b) => bucketsByBound.get(b) ?? 0);
  const p50 = histogramQuantile(0.5, bounds, buckets);
  const p99 = histogramQuantile(0.99, bounds, buckets);
  return {
    t: to.at,
    rps: seconds > 0 ? calls / seconds : 0,
    errorRate: calls > 0 ? errors / calls : 0,
    p50Ms: p50 === undefined ? null : p50 * 1000,
    p99Ms: p99 === undefined ? null : p99 * 1000,
  };
}
