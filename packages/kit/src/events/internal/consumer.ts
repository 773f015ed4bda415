import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { Kysely, Transaction } from "kysely";
import type { Logger } from "../../logger.js";
import { type CloudEvent, PROTOBUF_CONTENT_TYPE } from "../cloudevents.js";
import type { EventBusConfig } from "../config.js";
import { type EventHandler, NonRetryableError, type ReceivedEvent } from "../handler.js";
import type { MessageType } from "../message-type.js";
import type { EventTables } from "../tables.js";
import { backoffDelayMs } from "./backoff.js";
import type { EventMetrics } from "./event-metrics.js";
import { type Decision, type Received, truncateError } from "./transport.js";

/** One handler registered for a type on a queue. */
export interface Registration<DB> {
  readonly type: MessageType<unknown>;
  readonly handler: EventHandler<DB, unknown>;
}

/** What {@link createDeliveryHandler} needs. */
export interface DeliveryHandlerOptions<DB> {
  /** Logical queue name; also the consumer key under which handled ids are recorded. */
  readonly queue: string;
  readonly db: Kysely<DB>;
  readonly handlers: ReadonlyMap<string, Registration<DB>>;
  readonly config: EventBusConfig;
  readonly metrics: EventMetrics;
  readonly logger: Logger;
  readonly tracer: Tracer;
  readonly messagingSystem: string;
}

function errorText(error: unknown): string {
  return truncateError(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
}

/**
 * The consumer side every transport shares: decode, continue the producer's trace, run the
 * handler in a transaction that also inserts `(queue, event id)` into `processed_events` (a
 * redelivery finds the row and changes nothing), and decide between ack, retry and dead letter.
 */
export function createDeliveryHandler<DB>(
  options: DeliveryHandlerOptions<DB>,
): (received: Received) => Promise<Decision> {
  const { queue, db, handlers, config, metrics, logger, tracer } = options;

  function deadLetter(type: string, reason: string, error: string, log: Record<string, unknown>): Decision {
    metrics.deadLetters.inc({ queue, type, reason });
    logger.error({ ...log, queue, type, reason, error }, "event dead-lettered");
    return { outcome: "dead-letter", error };
  }

  return async (received) => {
    if (!received.ok) {
      return deadLetter("unknown", "invalid_message", errorText(received.error), { message_id: received.messageId });
    }
    const { event, attempt } = received;
    const registration = handlers.get(event.type);
    const log = { event_id: event.id, attempt, source: event.source };
    if (registration === undefined) {
      return deadLetter(event.type, "invalid_message", `queue ${queue} has no handler for ${event.type}`, log);
    }
    if (event.datacontenttype !== PROTOBUF_CONTENT_TYPE) {
      return deadLetter(
        event.type,
        "invalid_message",
        `datacontenttype is ${JSON.stringify(event.datacontenttype)}, expected ${PROTOBUF_CONTENT_TYPE}`,
        log,
      );
    }
    let data: unknown;
    try {
      data = registration.type.decode(event.data);
    } catch (error) {
      return deadLetter(event.type, "invalid_message", `data is not a ${event.type}: ${errorText(error)}`, log);
    }
    return handle(event, attempt, registration, data, log);
  };

  async function handle(
    event: CloudEvent,
    attempt: number,
    registration: Registration<DB>,
    data: unknown,
    log: Record<string, unknown>,
  ): Promise<Decision> {
    const carrier: Record<string, string> = {};
    if (event.traceparent !== undefined) carrier.traceparent = event.traceparent;
    if (event.tracestate !== undefined) carrier.tracestate = event.tracestate;
    const parent = propagation.extract(ROOT_CONTEXT, carrier);
    const span = tracer.startSpan(
      `process ${event.type}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": options.messagingSystem,
          "messaging.operation.type": "process",
          "messaging.destination.name": queue,
          "messaging.message.id": event.id,
          "cloudevents.event_id": event.id,
          "cloudevents.event_source": event.source,
          "cloudevents.event_type": event.type,
          ...(event.subject === undefined ? {} : { "cloudevents.event_subject": event.subject }),
          "messaging.delivery.attempt": attempt,
        },
      },
      parent,
    );
    const received: ReceivedEvent<unknown> = {
      id: event.id,
      type: event.type,
      source: event.source,
      subject: event.subject,
      time: new Date(event.time),
      data,
      attempt,
    };
    const labels = { queue, type: event.type };
    const stopTimer = metrics.handlerDuration.startTimer(labels);
    try {
      const applied = await context.with(trace.setSpan(parent, span), () =>
        db.transaction().execute(async (trx) => {
          const row = await (trx.withoutPlugins() as unknown as Transaction<EventTables>)
            .insertInto("processed_events")
            .values({ consumer: queue, event_id: event.id })
            .onConflict((conflict) => conflict.doNothing())
            .returning("event_id")
            .executeTakeFirst();
          if (row === undefined) return false;
          await registration.handler(received, trx);
          return true;
        }),
      );
      metrics.consumed.inc({ ...labels, result: applied ? "handled" : "duplicate" });
      if (!applied) logger.debug({ ...log, queue, type: event.type }, "duplicate delivery skipped");
      return { outcome: "ack" };
    } catch (error) {
      metrics.consumed.inc({ ...labels, result: "failed" });
      span.recordException(error instanceof Error ? error : new Error(String(error)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(error) });
      const text = errorText(error);
      if (error instanceof NonRetryableError) return deadLetter(event.type, "non_retryable", text, log);
      if (attempt >= config.maxAttempts) return deadLetter(event.type, "attempts_exhausted", text, log);
      const delayMs = backoffDelayMs(attempt, config.retryDelayMs, config.retryMaxDelayMs);
      metrics.retries.inc(labels);
      logger.warn(
        { ...log, queue, type: event.type, delay_ms: delayMs, err: error },
        "event handler failed; will retry",
      );
      return { outcome: "retry", delayMs, error: text };
    } finally {
      stopTimer();
      span.end();
    }
  }
}
