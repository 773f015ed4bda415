import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** What the pool gauges read from one database when scraped. */
export interface PoolStats {
  readonly name: string;
  readonly max: number;
  readonly total: () => number;
  readonly idle: () => number;
  readonly waiting: () => number;
  readonly available: () => boolean;
}

/** The metric families of the databases recorded on one registry. */
export interface DatabaseMetrics {
  /** `db_client_operation_duration_seconds{db_namespace, db_operation_name, db_collection_name, outcome}` */
  readonly duration: Histogram<"db_namespace" | "db_operation_name" | "db_collection_name" | "outcome">;
  /** `db_client_connection_timeouts_total{db_namespace}`: no pooled connection within the connect timeout. */
  readonly timeouts: Counter<"db_namespace">;
  /** Adds a database to the pool gauges; returns the function that removes it (on close). */
  track(stats: PoolStats): () => void;
}

/**
 * Query durations in seconds, from 0.5 ms (a primary-key read on a warm connection) to the
 * longest statement timeout anyone should configure.
 */
export const DB_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const byRegistry = new WeakMap<Registry, DatabaseMetrics>();

/**
 * The database metric families on `registry`, created on first use and shared by every
 * database recorded there (a service with its own database and the event bus's). Names follow
 * OpenTelemetry's database client conventions, in Prometheus form.
 */
export function databaseMetrics(registry: Registry): DatabaseMetrics {
  const existing = byRegistry.get(registry);
  if (existing !== undefined) return existing;
  const tracked = new Set<PoolStats>();
  const registers = [registry];
  const duration = new Histogram({
    name: "db_client_operation_duration_seconds",
    help: "Duration of database statements, by database, operation and first table.",
    labelNames: ["db_namespace", "db_operation_name", "db_collection_name", "outcome"] as const,
    buckets: DB_DURATION_BUCKETS,
    registers,
  });
  const timeouts = new Counter({
    name: "db_client_connection_timeouts_total",
    help: "Requests for a pooled connection that timed out.",
    labelNames: ["db_namespace"] as const,
    registers,
  });
  new Gauge({
    name: "db_client_connection_count",
    help: "Connections in the pool, by state (idle or used).",
    labelNames: ["db_namespace", "state"] as const,
    registers,
    collect() {
      this.reset();
      for (const stats of tracked) {
        const idle = stats.idle();
        this.set({ db_namespace: stats.name, state: "idle" }, idle);
        this.set({ db_namespace: stats.name, state: "used" }, stats.total() - idle);
      }
    },
  });
  new Gauge({
    name: "db_client_connection_max",
    help: "The most connections the pool may open.",
    labelNames: ["db_namespace"] as const,
    registers,
    collect() {
      this.reset();
      for (const stats of tracked) this.set({ db_namespace: stats.name }, stats.max);
    },
  });
  new Gauge({
    name: "db_client_connection_pending_requests",
    help: "Requests waiting for a pooled connection.",
    labelNames: ["db_namespace"] as const,
    registers,
    collect() {
      this.reset();
      for (const stats of tracked) this.set({ db_namespace: stats.name }, stats.waiting());
    },
  });
  new Gauge({
    name: "db_client_available",
    help: "1 while the database answers its health check, 0 while it does not.",
    labelNames: ["db_namespace"] as const,
    registers,
    collect() {
      this.reset();
      for (const stats of tracked) this.set({ db_namespace: stats.name }, stats.available() ? 1 : 0);
    },
  });
  const metrics: DatabaseMetrics = {
    duration,
    timeouts,
    track(stats) {
      tracked.add(stats);
      return () => tracked.delete(stats);
    },
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
