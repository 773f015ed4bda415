import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The event bus's metrics, registered once per registry (several buses may share one in tests). */
export interface EventMetrics {
  /** `events_published_total{kind,type}`: messages the broker confirmed. */
  readonly published: Counter<"kind" | "type">;
  /** `events_publish_failures_total{kind,type}`: publishes that failed or timed out (they are re-sent). */
  readonly publishFailures: Counter<"kind" | "type">;
  /** `events_outbox_lag_seconds`: from the outbox insert to the broker's confirmation. */
  readonly outboxLag: Histogram;
  /** `events_outbox_pending`: unsent rows in the outbox, as the relay last counted them. */
  readonly outboxPending: Gauge;
  /** `events_outbox_oldest_pending_seconds`: age of the oldest unsent row. */
  readonly outboxOldestPending: Gauge;
  /** `events_consumed_total{queue,type,result}`: result `handled`, `duplicate` or `failed`. */
  readonly consumed: Counter<"queue" | "type" | "result">;
  /** `events_handler_duration_seconds{queue,type}`: the handler and its transaction. */
  readonly handlerDuration: Histogram<"queue" | "type">;
  /** `events_retries_total{queue,type}`: deliveries scheduled for another attempt. */
  readonly retries: Counter<"queue" | "type">;
  /** `events_dead_letters_total{queue,type,reason}`: reason `attempts_exhausted`, `non_retryable` or `invalid_message`. */
  readonly deadLetters: Counter<"queue" | "type" | "reason">;
}

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

function once<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/** Creates (or finds) the event metrics on `registry`. */
export function createEventMetrics(registry: Registry): EventMetrics {
  const registers = [registry];
  return {
    published: once(
      registry,
      "events_published_total",
      () =>
        new Counter({
          name: "events_published_total",
          help: "Events and tasks the broker confirmed, by kind and type.",
          labelNames: ["kind", "type"],
          registers,
        }),
    ),
    publishFailures: once(
      registry,
      "events_publish_failures_total",
      () =>
        new Counter({
          name: "events_publish_failures_total",
          help: "Publishes from the outbox that failed or were not confirmed in time; they are re-sent.",
          labelNames: ["kind", "type"],
          registers,
        }),
    ),
    outboxLag: once(
      registry,
      "events_outbox_lag_seconds",
      () =>
        new Histogram({
          name: "events_outbox_lag_seconds",
          help: "Time from the outbox insert to the broker's confirmation.",
          buckets: SECONDS_BUCKETS,
          registers,
        }),
    ),
    outboxPending: once(
      registry,
      "events_outbox_pending",
      () => new Gauge({ name: "events_outbox_pending", help: "Unsent rows in the outbox.", registers }),
    ),
    outboxOldestPending: once(
      registry,
      "events_outbox_oldest_pending_seconds",
      () =>
        new Gauge({
          name: "events_outbox_oldest_pending_seconds",
          help: "Age of the oldest unsent outbox row (0 when there is none).",
          registers,
        }),
    ),
    consumed: once(
      registry,
      "events_consumed_total",
      () =>
        new Counter({
          name: "events_consumed_total",
          help: "Deliveries handled by consumers: result handled, duplicate (already handled) or failed.",
          labelNames: ["queue", "type", "result"],
          registers,
        }),
    ),
    handlerDuration: once(
      registry,
      "events_handler_duration_seconds",
      () =>
        new Histogram({
          name: "events_handler_duration_seconds",
          help: "Time a consumer spent on a delivery: its transaction and the handler.",
          labelNames: ["queue", "type"],
          buckets: SECONDS_BUCKETS,
          registers,
        }),
    ),
    retries: once(
      registry,
      "events_retries_total",
      () =>
        new Counter({
          name: "events_retries_total",
          help: "Failed deliveries scheduled for another attempt.",
          labelNames: ["queue", "type"],
          registers,
        }),
    ),
    deadLetters: once(
      registry,
      "events_dead_letters_total",
      () =>
        new Counter({
          name: "events_dead_letters_total",
          help: "Messages moved to a dead-letter queue, by reason.",
          labelNames: ["queue", "type", "reason"],
          registers,
        }),
    ),
  };
}
