import { randomUUID } from "node:crypto";
import { context, propagation, SpanKind, type TracerProvider, trace } from "@opentelemetry/api";
import { type Kysely, sql } from "kysely";
import type pg from "pg";
import { Registry } from "prom-client";
import { createLogger, type Logger } from "../logger.js";
import { KIT_TRACER_NAME } from "../observability/tracing.js";
import { type EventBusConfig, type EventTransportName, readEventBusConfig } from "./config.js";
import { type DeadLetters, deadLettersOf } from "./dead-letters.js";
import type { EventHandler } from "./handler.js";
import { createDeliveryHandler, type Registration } from "./internal/consumer.js";
import { createTransport } from "./internal/create-transport.js";
import { createEventMetrics } from "./internal/event-metrics.js";
import { checkServiceName, subscriptionQueue, taskQueue } from "./internal/names.js";
import { createOutboxRelay, type OutboxRelay } from "./internal/outbox-relay.js";
import { type MessageType, messageTypeName } from "./message-type.js";
import type { EventTables } from "./tables.js";

/** Options for {@link EventBus.publish} and {@link EventBus.enqueue}. */
export interface PublishOptions {
  /** CloudEvents `subject`: what the event is about, e.g. the order id. */
  subject?: string;
  /** CloudEvents `id`; default a new UUID. Pass one to make a retried request record the same event. */
  id?: string;
  /** CloudEvents `time`; default now. */
  time?: Date;
}

/** Options for {@link createEventBus}. */
export interface CreateEventBusOptions<DB> {
  /** The service's name: the CloudEvents source `/bookstore/<service>` and its subscription queue. */
  service: string;
  /** The service's own database, which has the tables of {@link eventsMigrations}. */
  db: Kysely<DB>;
  /**
   * A connection for `LISTEN outbox`, so the relay publishes as soon as a transaction commits: a
   * connection string, or the service's `pg.Pool` (one client is held for it). Without it the
   * relay polls every `EVENT_BUS_OUTBOX_POLL_MS`.
   */
  listen?: string | pg.Pool;
  /** Default: {@link readEventBusConfig} of `process.env`. */
  config?: EventBusConfig;
  logger?: Logger;
  /** Registry for the `events_*` metrics, e.g. `createMetrics().registry`. */
  registry?: Registry;
  /** Default: the global tracer provider (what `setupTracing` registered). */
  tracerProvider?: TracerProvider;
  /** Run the outbox relay in this process (default true). */
  relay?: boolean;
}

/**
 * A service's event bus: it records events and tasks in the service's outbox, delivers them
 * through the configured transport, and runs the service's handlers idempotently.
 */
export interface EventBus<DB> {
  readonly service: string;
  readonly transport: EventTransportName;
  /**
   * Records `data` as an event of `type` in the outbox, inside `trx`: it is published to every
   * subscriber once `trx` commits, and never if it rolls back. Returns the event id.
   */
  publish<T>(trx: Kysely<DB>, type: MessageType<T>, data: T, options?: PublishOptions): Promise<string>;
  /**
   * Records `data` as a task of `type` in the outbox, inside `trx`: once `trx` commits it goes to
   * the task's work queue, where exactly one worker (one replica of the service that called
   * {@link EventBus.work} for `type`) handles it. Returns the task id.
   */
  enqueue<T>(trx: Kysely<DB>, type: MessageType<T>, data: T, options?: PublishOptions): Promise<string>;
  /** Handles every event of `type` (publish/subscribe, on this service's queue). Call before start(). */
  subscribe<T>(type: MessageType<T>, handler: EventHandler<DB, T>): this;
  /** Handles tasks of `type`, competing with this service's other replicas. Call before start(). */
  work<T>(type: MessageType<T>, handler: EventHandler<DB, T>): this;
  /** Connects, declares the queues, starts consuming and starts the relay. */
  start(): Promise<void>;
  /** Stops consuming (handlers in flight finish), stops the relay, disconnects. */
  close(): Promise<void>;
  /** The dead letters of this service's queues (or any queue, by name). */
  readonly deadLetters: DeadLetters;
  /** The queues this bus consumes: the service's subscription queue (if it subscribes) and its task queues. */
  queues(): string[];
}

/** How often old sent outbox rows and old processed ids are deleted. */
const SWEEP_INTERVAL_MS = 10 * 60 * 1000;
/** Rows deleted per statement, so a sweep never holds long locks. */
const SWEEP_BATCH = 5000;

/** The CloudEvents source of a service's events. */
export function eventSource(service: string): string {
  return `/bookstore/${service}`;
}

/**
 * Creates a service's {@link EventBus}. `main.ts` creates it with the service's database, registers
 * the handlers, calls `start()` before serving and `close()` on shutdown; request handlers call
 * `publish`/`enqueue` with their transaction.
 */
export function createEventBus<DB>(options: CreateEventBusOptions<DB>): EventBus<DB> {
  const service = checkServiceName(options.service);
  const config = options.config ?? readEventBusConfig();
  const logger = (options.logger ?? createLogger({ name: service })).child({ component: "events" });
  const metrics = createEventMetrics(options.registry ?? new Registry());
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(KIT_TRACER_NAME);
  const source = eventSource(service);
  const transport = createTransport(config, { service, logger });
  // The kit's own queries run without the service's plugins (a CamelCasePlugin would rename the
  // columns it reads back).
  const eventsDb = options.db.withoutPlugins() as unknown as Kysely<EventTables>;
  const subscriptions = new Map<string, Registration<DB>>();
  const tasks = new Map<string, Registration<DB>>();
  let relay: OutboxRelay | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let state: "new" | "starting" | "started" | "closed" = "new";

  async function record<T>(
    kind: "event" | "task",
    trx: Kysely<DB>,
    type: MessageType<T>,
    data: T,
    publishOptions: PublishOptions,
  ): Promise<string> {
    const name = messageTypeName(type as MessageType<unknown>);
    const id = publishOptions.id ?? randomUUID();
    if (id === "" || id.length > 200) throw new RangeError("an event id must be 1-200 characters");
    const encoded = type.encode(data).finish();
    const queue = kind === "task" ? taskQueue(name) : null;
    // The "create" span of the messaging conventions: the consumer's span will be its child.
    const span = tracer.startSpan(`create ${name}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        "messaging.operation.type": "create",
        "messaging.message.id": id,
        "cloudevents.event_id": id,
        "cloudevents.event_source": source,
        "cloudevents.event_type": name,
        ...(publishOptions.subject === undefined ? {} : { "cloudevents.event_subject": publishOptions.subject }),
      },
    });
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), carrier);
    span.end();
    await (trx.withoutPlugins() as unknown as Kysely<EventTables>)
      .insertInto("outbox")
      .values({
        event_id: id,
        kind,
        type: name,
        queue,
        source,
        subject: publishOptions.subject ?? null,
        time: publishOptions.time ?? new Date(),
        traceparent: carrier.traceparent ?? null,
        tracestate: carrier.tracestate ?? null,
        data: encoded,
      })
      .execute();
    return id;
  }

  function register<T>(
    into: Map<string, Registration<DB>>,
    what: string,
    type: MessageType<T>,
    handler: EventHandler<DB, T>,
  ): void {
    if (state !== "new") throw new Error(`${what} handlers must be registered before start()`);
    const name = messageTypeName(type as MessageType<unknown>);
    if (into.has(name)) throw new Error(`${service} already has a ${what} handler for ${name}`);
    into.set(name, { type: type as MessageType<unknown>, handler: handler as EventHandler<DB, unknown> });
  }

  function deliveryHandler(queue: string, handlers: ReadonlyMap<string, Registration<DB>>) {
    return createDeliveryHandler({
      queue,
      db: options.db,
      handlers,
      config,
      metrics,
      logger,
      tracer,
      messagingSystem: config.transport === "amqp" ? "rabbitmq" : "pg-boss",
    });
  }

  async function sweep(): Promise<void> {
    try {
      if (relay !== undefined && config.outboxRetentionHours > 0) {
        for (;;) {
          const result = await sql`
            delete from outbox where id in (
              select id from outbox
              where sent_at < now() - ${config.outboxRetentionHours} * interval '1 hour'
              limit ${SWEEP_BATCH})`.execute(eventsDb);
          if (Number(result.numAffectedRows ?? 0) < SWEEP_BATCH) break;
        }
      }
      if (subscriptions.size > 0 || tasks.size > 0) {
        for (;;) {
          const result = await sql`
            delete from processed_events where ctid in (
              select ctid from processed_events
              where processed_at < now() - ${config.processedRetentionDays} * interval '1 day'
              limit ${SWEEP_BATCH})`.execute(eventsDb);
          if (Number(result.numAffectedRows ?? 0) < SWEEP_BATCH) break;
        }
      }
    } catch (error) {
      logger.warn({ err: error }, "could not delete old outbox rows and processed event ids; will try again");
    }
  }

  const bus: EventBus<DB> = {
    service,
    transport: config.transport,
    deadLetters: deadLettersOf(transport),

    queues: () => [
      ...(subscriptions.size > 0 ? [subscriptionQueue(service)] : []),
      ...[...tasks.keys()].map((name) => taskQueue(name)),
    ],

    publish: (trx, type, data, publishOptions = {}) => record("event", trx, type, data, publishOptions),
    enqueue: (trx, type, data, publishOptions = {}) => record("task", trx, type, data, publishOptions),

    subscribe(type, handler) {
      register(subscriptions, "subscription", type, handler);
      return this;
    },

    work(type, handler) {
      register(tasks, "task", type, handler);
      return this;
    },

    async start() {
      if (state !== "new") throw new Error(`the event bus of ${service} was already started`);
      state = "starting";
      try {
        await transport.start();
        if (subscriptions.size > 0) {
          const queue = subscriptionQueue(service);
          await transport.consume({
            queue,
            eventTypes: [...subscriptions.keys()],
            handle: deliveryHandler(queue, subscriptions),
          });
        }
        for (const [name, registration] of tasks) {
          const queue = taskQueue(name);
          await transport.consume({
            queue,
            eventTypes: [],
            handle: deliveryHandler(queue, new Map([[name, registration]])),
          });
        }
        if (options.relay ?? true) {
          relay = createOutboxRelay({
            db: eventsDb,
            transport,
            config,
            metrics,
            logger,
            listen: options.listen,
          });
          await relay.start();
        }
        sweeper = setInterval(() => void sweep(), SWEEP_INTERVAL_MS);
        sweeper.unref();
        void sweep();
        state = "started";
        logger.info(
          {
            transport: config.transport,
            subscriptions: [...subscriptions.keys()],
            tasks: [...tasks.keys()],
            relay: relay !== undefined,
          },
          "event bus started",
        );
      } catch (error) {
        state = "closed";
        await relay?.stop().catch(() => {});
        await transport.close().catch(() => {});
        throw error;
      }
    },

    async close() {
      if (state === "closed") return;
      state = "closed";
      clearInterval(sweeper);
      await transport.stopConsuming();
      await relay?.stop();
      await transport.close();
    },
  };
  return bus;
}
