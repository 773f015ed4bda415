import cluster, { type Worker } from "node:cluster";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Registry } from "prom-client";
import { createLogger, type Logger } from "../logger.js";
import { type MetricsServer, startMetricsServer } from "../observability/metrics-server.js";
import { answerMetricsRequests, collectClusterMetrics } from "./internal/cluster-metrics.js";

/** Environment variable the primary sets on each worker: its slot, 1..workers, kept across restarts. */
export const WORKER_INDEX_ENV = "OBFY_CLUSTER_WORKER_INDEX";

const READY_MESSAGE = "obfy-cluster:ready";

/** What `start` is told about the process it runs in. */
export interface WorkerInfo {
  /** The worker's slot, 1..workers; a restarted worker keeps its slot. 1 when not clustered. */
  readonly index: number;
  /**
   * True in a node:cluster worker. Then the primary serves the aggregated `/metrics` on
   * `METRICS_PORT`, so the worker must not start its own metrics server (it would share the port
   * with its siblings and answer for itself only); it returns its registry instead.
   */
  readonly clustered: boolean;
}

/** What `start` returns once the service is serving. */
export interface WorkerStarted {
  /** The worker's metrics, aggregated by the primary. */
  readonly registry?: Registry;
  /** The port the service listens on (shared by every worker), for the primary's log. */
  readonly port?: number;
}

/** Restart policy for workers that exit on their own. */
export interface RestartPolicy {
  /** Delay before the first restart of a slot; doubles with each further crash in the window. Default 100 ms. */
  readonly initialDelayMs?: number;
  /** Longest delay between restarts. Default 10 s. */
  readonly maxDelayMs?: number;
  /**
   * Crashes of one slot within {@link windowMs} after which the primary gives up: it stops
   * every worker and exits 1, so the orchestrator restarts the whole pod. Default 5.
   */
  readonly maxCrashes?: number;
  /** Window for {@link maxCrashes}. Default 60 s. */
  readonly windowMs?: number;
}

/** Something that happened to a worker, for logs and tests. */
export type ClusterEvent =
  | { readonly type: "worker-ready"; readonly index: number; readonly pid: number; readonly port: number | undefined }
  | {
      readonly type: "worker-exit";
      readonly index: number;
      readonly pid: number;
      readonly code: number | null;
      readonly signal: string | null;
      /** Delay before the restart; undefined when the worker is not restarted (shutdown or give-up). */
      readonly restartInMs: number | undefined;
    }
  | { readonly type: "give-up"; readonly index: number; readonly crashes: number }
  | { readonly type: "shutdown"; readonly signal: string | undefined };

/** Options for {@link runCluster}. */
export interface RunClusterOptions {
  /** Worker processes; usually {@link readWorkers}(). 1 runs `start` in this process, without node:cluster. */
  readonly workers: number;
  /**
   * Builds and starts the service, resolving once it serves. Runs in every worker (or in this
   * process when `workers` is 1). It keeps its own signal handling (`runUntilSignalled`): the
   * primary forwards SIGTERM to it, and it drains and exits. It must return, not wait for shutdown.
   */
  readonly start: (info: WorkerInfo) => Promise<WorkerStarted | undefined> | WorkerStarted | undefined;
  /** The primary's logger. Default `createLogger({ name: "cluster" })`. */
  readonly logger?: Logger;
  /**
   * Where the primary serves the aggregated `GET /metrics` (every worker's registry, merged) and
   * `GET /healthz` (200 while at least one worker serves, 503 otherwise). Omit for none. Only used
   * with more than one worker: with one, `start` serves its own metrics as usual.
   */
  readonly metrics?: { readonly port: number; readonly host?: string };
  readonly restart?: RestartPolicy;
  /** Signals that start a graceful shutdown of the whole cluster. Default SIGTERM and SIGINT. */
  readonly signals?: readonly NodeJS.Signals[];
  /** Exit the primary when the cluster has stopped (code 0, or 1 after a give-up or a failed worker). Default true. */
  readonly exit?: boolean;
  /** Called for every {@link ClusterEvent}, after it is logged. */
  readonly onEvent?: (event: ClusterEvent) => void;
}

/** The primary's view of a running cluster. */
export interface ClusterPrimary {
  /** Resolves once every worker has started for the first time; rejects if the cluster gave up first. */
  readonly ready: Promise<void>;
  /** `SERVING` while at least one worker serves and no shutdown has begun, else `NOT_SERVING`. */
  readonly status: "SERVING" | "NOT_SERVING";
  /** Pids of the workers currently serving. */
  readonly workerPids: readonly number[];
  /** The service port reported by the workers (they all share it). */
  readonly port: number | undefined;
  /** `http://host:port` of the primary's metrics server, when it runs one. */
  readonly metricsUrl: string | undefined;
  /** Every serving worker's metrics, aggregated, in the Prometheus text format. */
  aggregatedMetrics(): Promise<string>;
  /**
   * Forwards SIGTERM once to every worker, waits for all of them to exit, closes the metrics
   * server and resolves with the exit code (0 when every worker exited cleanly). Safe to call
   * again: later calls return the same promise.
   */
  shutdown(): Promise<number>;
  /** Resolves with the exit code once the cluster has stopped, whatever stopped it. */
  readonly done: Promise<number>;
}

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  ready: boolean;
  crashes: number[];
  restartTimer: NodeJS.Timeout | undefined;
}

function isReadyMessage(message: unknown): message is { type: typeof READY_MESSAGE; port?: number } {
  return typeof message === "object" && message !== null && (message as { type?: unknown }).type === READY_MESSAGE;
}

/**
 * Runs a service as `workers` processes sharing one port on one host (node:cluster), for hosts
 * with more than one core (a single Node.js process uses one core for JavaScript).
 *
 * - `workers` = 1: calls `start` here and returns `undefined`; nothing else changes.
 * - In the primary: forks the workers, restarts any that exit on their own (exponential backoff,
 *   giving up after {@link RestartPolicy.maxCrashes} crashes of one slot), serves aggregated
 *   metrics, forwards SIGTERM/SIGINT once to every worker and exits when all have drained. A
 *   second signal is logged and ignored. Returns a {@link ClusterPrimary}.
 * - In a worker: calls `start`, tells the primary it is ready, answers its metrics requests and
 *   returns `undefined`.
 *
 * Port sharing: grpc-js listens through `net`, so under node:cluster every worker's
 * `bindAsync` is handed to the primary, which owns the one listening socket and passes accepted
 * connections to the workers round-robin (`SCHED_RR`, set here explicitly). Connections, not
 * calls, are balanced: a client with one HTTP/2 connection talks to one worker.
 */
export async function runCluster(options: RunClusterOptions): Promise<ClusterPrimary | undefined> {
  if (cluster.isWorker) {
    await runWorker(options);
    return undefined;
  }
  if (options.workers <= 1) {
    await options.start({ index: 1, clustered: false });
    return undefined;
  }
  return startPrimary(options);
}

async function runWorker(options: RunClusterOptions): Promise<void> {
  const index = Number(process.env[WORKER_INDEX_ENV] ?? cluster.worker?.id ?? 1);
  let started: WorkerStarted | undefined;
  try {
    started = (await options.start({ index, clustered: true })) ?? undefined;
  } catch (error) {
    const logger = options.logger ?? createLogger({ name: "cluster" });
    logger.fatal({ err: error, worker: index }, "Worker failed to start");
    process.exit(1);
  }
  if (started?.registry) answerMetricsRequests(started.registry);
  process.send?.({ type: READY_MESSAGE, port: started?.port });
}

async function startPrimary(options: RunClusterOptions): Promise<ClusterPrimary> {
  const logger = options.logger ?? createLogger({ name: "cluster" });
  const initialDelayMs = options.restart?.initialDelayMs ?? 100;
  const maxDelayMs = options.restart?.maxDelayMs ?? 10_000;
  const maxCrashes = options.restart?.maxCrashes ?? 5;
  const windowMs = options.restart?.windowMs ?? 60_000;
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const exit = options.exit ?? true;

  // Linux defaults to round-robin already; set it so the behaviour does not depend on the platform default.
  cluster.schedulingPolicy = cluster.SCHED_RR;

  const slots: Slot[] = Array.from({ length: options.workers }, (_, i) => ({
    index: i + 1,
    worker: undefined,
    ready: false,
    crashes: [],
    restartTimer: undefined,
  }));
  let port: number | undefined;
  let stopping: Promise<number> | undefined;
  let exitCode = 0;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  let resolveReady: () => void = () => {};
  let rejectReady: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // A caller that never awaits `ready` must not see an unhandled rejection after a give-up.
  ready.catch(() => {});

  const emit = (event: ClusterEvent): void => {
    options.onEvent?.(event);
  };

  const fork = (slot: Slot): void => {
    slot.restartTimer = undefined;
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(slot.index) });
    slot.worker = worker;
    slot.ready = false;
    const pid = worker.process.pid ?? 0;
    worker.on("message", (message: unknown) => {
      if (!isReadyMessage(message)) return;
      slot.ready = true;
      port ??= message.port;
      logger.info({ worker: slot.index, worker_pid: pid, port: message.port }, "Worker serving");
      emit({ type: "worker-ready", index: slot.index, pid, port: message.port });
      if (slots.every((s) => s.ready)) resolveReady();
    });
    worker.on("exit", (code, signal) => onExit(slot, worker, pid, code, signal));
  };

  const finishIfAllExited = (): void => {
    if (stopping === undefined || slots.some((s) => s.worker !== undefined)) return;
    void (async () => {
      await metricsServer?.close().catch(() => {});
      for (const s of signals) process.off(s, onSignal);
      logger.info({ code: exitCode }, "Cluster stopped");
      resolveDone(exitCode);
      if (exit) process.exit(exitCode);
    })();
  };

  const onExit = (slot: Slot, worker: Worker, pid: number, code: number | null, signal: string | null): void => {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    if (stopping !== undefined) {
      if (code !== 0) exitCode = 1;
      logger.info({ worker: slot.index, worker_pid: pid, code, signal }, "Worker exited");
      emit({ type: "worker-exit", index: slot.index, pid, code, signal, restartInMs: undefined });
      finishIfAllExited();
      return;
    }
    const now = Date.now();
    slot.crashes = slot.crashes.filter((t) => now - t < windowMs);
    slot.crashes.push(now);
    if (slot.crashes.length > maxCrashes) {
      logger.error(
        { worker: slot.index, worker_pid: pid, code, signal, crashes: slot.crashes.length },
        "Worker keeps crashing; stopping the cluster",
      );
      emit({ type: "worker-exit", index: slot.index, pid, code, signal, restartInMs: undefined });
      emit({ type: "give-up", index: slot.index, crashes: slot.crashes.length });
      exitCode = 1;
      rejectReady(new Error(`worker ${slot.index} crashed ${slot.crashes.length} times within ${windowMs} ms`));
      void shutdown(undefined);
      return;
    }
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** (slot.crashes.length - 1));
    logger.error(
      { worker: slot.index, worker_pid: pid, code, signal, restart_in_ms: delay },
      "Worker exited unexpectedly; restarting",
    );
    emit({ type: "worker-exit", index: slot.index, pid, code, signal, restartInMs: delay });
    slot.restartTimer = setTimeout(() => fork(slot), delay);
  };

  const shutdown = (signal: string | undefined): Promise<number> => {
    if (stopping !== undefined) return stopping;
    stopping = done;
    logger.info({ signal, workers: slots.filter((s) => s.worker).length }, "Shutting down the cluster");
    emit({ type: "shutdown", signal });
    for (const slot of slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      // SIGTERM straight to the process, not worker.kill(): that would first cut the IPC channel,
      // and a worker that loses it exits at once instead of draining.
      slot.worker?.process.kill("SIGTERM");
    }
    finishIfAllExited();
    return stopping;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping !== undefined) {
      logger.warn({ signal }, "Already shutting down; waiting for workers to drain (send SIGKILL to force)");
      return;
    }
    void shutdown(signal);
  };

  const servingWorkers = (): Worker[] => slots.flatMap((s) => (s.ready && s.worker?.isConnected() ? [s.worker] : []));
  const status = (): "SERVING" | "NOT_SERVING" =>
    stopping === undefined && servingWorkers().length > 0 ? "SERVING" : "NOT_SERVING";
  const aggregatedMetrics = async (): Promise<string> => (await collectClusterMetrics(servingWorkers())).metrics();

  let metricsServer: MetricsServer | undefined;
  if (options.metrics) {
    metricsServer = await startMetricsServer({
      port: options.metrics.port,
      ...(options.metrics.host === undefined ? {} : { host: options.metrics.host }),
      registry: new ClusterRegistry(aggregatedMetrics),
      handlers: [
        (request: IncomingMessage, response: ServerResponse): boolean => {
          if ((request.url ?? "").split("?", 1)[0] !== "/healthz") return false;
          const current = status();
          response.writeHead(current === "SERVING" ? 200 : 503, { "content-type": "application/json" });
          response.end(JSON.stringify({ status: current, workers: servingWorkers().length, target: slots.length }));
          return true;
        },
      ],
    });
  }

  for (const s of signals) process.on(s, onSignal);
  logger.info({ workers: slots.length, metrics: metricsServer?.url }, "Starting workers");
  for (const slot of slots) fork(slot);

  return {
    ready,
    get status() {
      return status();
    },
    get workerPids() {
      return servingWorkers().map((w) => w.process.pid ?? 0);
    },
    get port() {
      return port;
    },
    metricsUrl: metricsServer?.url,
    aggregatedMetrics,
    shutdown: () => shutdown(undefined),
    done,
  };
}

/**
 * A registry whose text output is the cluster's aggregated metrics, so the kit's
 * `startMetricsServer` can serve it unchanged.
 */
class ClusterRegistry extends Registry {
  readonly #collect: () => Promise<string>;

  constructor(collect: () => Promise<string>) {
    super();
    this.#collect = collect;
  }

  override metrics(): Promise<string> {
    return this.#collect();
  }
}
