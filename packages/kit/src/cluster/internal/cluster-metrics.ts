import type { Worker } from "node:cluster";
import { AggregatorRegistry, Gauge, type Registry } from "prom-client";

/** IPC message the primary sends a worker to ask for its metrics. */
export const METRICS_REQUEST = "obfy-cluster:metrics-request";
/** IPC message a worker answers with. */
export const METRICS_RESPONSE = "obfy-cluster:metrics-response";

/** How long the primary waits for one worker's metrics before leaving it out of a scrape. */
export const WORKER_METRICS_TIMEOUT_MS = 2000;

type MetricsJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

interface MetricsRequest {
  readonly type: typeof METRICS_REQUEST;
  readonly id: number;
}

interface MetricsResponse {
  readonly type: typeof METRICS_RESPONSE;
  readonly id: number;
  readonly metrics?: MetricsJson;
  readonly error?: string;
}

function isMessage<T extends { type: string }>(message: unknown, type: T["type"]): message is T {
  return typeof message === "object" && message !== null && (message as { type?: unknown }).type === type;
}

/**
 * In a worker: answers the primary's metrics requests with `registry`'s metrics, so the primary
 * can serve one aggregated `/metrics` for the whole host. Returns a function that stops answering.
 */
export function answerMetricsRequests(registry: Registry): () => void {
  const onMessage = (message: unknown): void => {
    if (!isMessage<MetricsRequest>(message, METRICS_REQUEST)) return;
    registry.getMetricsAsJSON().then(
      (metrics) => process.send?.({ type: METRICS_RESPONSE, id: message.id, metrics } satisfies MetricsResponse),
      (error: unknown) =>
        process.send?.({ type: METRICS_RESPONSE, id: message.id, error: String(error) } satisfies MetricsResponse),
    );
  };
  process.on("message", onMessage);
  return () => process.off("message", onMessage);
}

let nextRequestId = 0;

function askWorker(worker: Worker, timeoutMs: number): Promise<MetricsJson | undefined> {
  const id = nextRequestId++;
  return new Promise((resolve) => {
    const finish = (value: MetricsJson | undefined): void => {
      clearTimeout(timer);
      worker.off("message", onMessage);
      worker.off("exit", onExit);
      resolve(value);
    };
    const onMessage = (message: unknown): void => {
      if (isMessage<MetricsResponse>(message, METRICS_RESPONSE) && message.id === id) finish(message.metrics);
    };
    const onExit = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    worker.on("message", onMessage);
    worker.on("exit", onExit);
    try {
      worker.send({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
    } catch {
      finish(undefined);
    }
  });
}

/**
 * Collects the metrics of `workers` over IPC and merges them with prom-client's
 * `AggregatorRegistry.aggregate` (counters and histograms summed, gauges per their aggregator).
 *
 * prom-client's own `clusterMetrics()` asks every connected worker and fails the whole scrape
 * after 5 s if one does not answer (a worker still starting, or one that never registered).
 * Here a worker that does not answer within {@link WORKER_METRICS_TIMEOUT_MS} is left out and
 * the scrape still succeeds; `cluster_metrics_workers{state}` says how many answered.
 */
export async function collectClusterMetrics(
  workers: readonly Worker[],
  timeoutMs: number = WORKER_METRICS_TIMEOUT_MS,
): Promise<Registry> {
  const answers = await Promise.all(workers.map((worker) => askWorker(worker, timeoutMs)));
  const collected = answers.filter((a): a is MetricsJson => a !== undefined);
  const aggregated: Registry = AggregatorRegistry.aggregate(collected);
  const workersGauge = new Gauge({
    name: "cluster_metrics_workers",
    help: "Worker processes whose metrics this scrape aggregated (answered) or left out (missing).",
    labelNames: ["state"],
    registers: [aggregated],
  });
  workersGauge.set({ state: "answered" }, collected.length);
  workersGauge.set({ state: "missing" }, answers.length - collected.length);
  return aggregated;
}
