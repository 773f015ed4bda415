import { createHash, randomUUID } from "node:crypto";
import {
  type AsyncMessage,
  Connection,
  type Consumer,
  ConsumerStatus,
  type Envelope,
  type Publisher,
  type ReturnedMessage,
  type SyncMessage,
} from "rabbitmq-client";
import type { Logger } from "../../logger.js";
import { type CloudEvent, fromAmqpMessage, toAmqpMessage } from "../cloudevents.js";
import type { EventBusConfig } from "../config.js";
import type { DeadLetter, DeadLetterSelection } from "../dead-letters.js";
import { deadLetterQueue, eventsExchange, physicalName, retryQueue } from "./names.js";
import type { OutgoingMessage, QueueConsumer, Received, Transport } from "./transport.js";

// Headers the kit adds beside the CloudEvents attributes.
const ATTEMPT_HEADER = "x-obfy-attempt";
const ERROR_HEADER = "x-obfy-error";
const QUEUE_HEADER = "x-obfy-queue";
const DEAD_LETTERED_AT_HEADER = "x-obfy-dead-lettered-at";
const PUBLISH_ID_HEADER = "x-obfy-publish-id";

/**
 * Deliveries of one message after which the quorum queue itself dead-letters it: only a consumer
 * that dies in the handler (so never acks or rejects) gets that far, since handler errors go
 * through the retry queues and `EVENT_BUS_MAX_ATTEMPTS`. A constant, so that changing the
 * configuration never changes a queue's arguments (RabbitMQ refuses a redeclaration that does).
 */
export const CRASH_DELIVERY_LIMIT = 10;

/** How long start() and a consumer's first setup may wait for the broker. */
const CONNECT_TIMEOUT_MS = 15_000;

/** Arguments of a subscription or work queue: quorum, dead-lettering at least once to its dead-letter queue. */
function mainQueueArguments(queue: string): Record<string, unknown> {
  return {
    "x-queue-type": "quorum",
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": deadLetterQueue(queue),
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
    "x-delivery-limit": CRASH_DELIVERY_LIMIT,
  };
}

/**
 * Arguments of a delay queue: nobody consumes it; a message waits there for its per-message TTL
 * (`expiration`), then RabbitMQ dead-letters it back to `queue`. One queue per attempt, so a
 * long delay never holds a short one behind it (TTLs expire only at the head of a queue).
 */
function retryQueueArguments(queue: string): Record<string, unknown> {
  return {
    "x-queue-type": "quorum",
    "x-dead-letter-exchange": "",
    "x-dead-letter-routing-key": queue,
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
  };
}

/**
 * The dead-letter queue is a classic durable queue: operators browse it (get, then requeue),
 * which on a quorum queue would count as deliveries towards RabbitMQ 4's default delivery limit
 * and in the end drop the very messages being kept.
 */
const DEAD_LETTER_QUEUE_ARGUMENTS = { "x-queue-type": "classic" } as const;

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable AMQP_URL)";
  }
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function headerNumber(value: unknown): number | undefined {
  const number = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  return Number.isInteger(number) && number > 0 ? number : undefined;
}

function headerString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return undefined;
}

/** Headers to carry over when the kit re-publishes a message: its own, without RabbitMQ's death records. */
function carriedHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key === "x-death" || key.startsWith("x-first-death-") || key.startsWith("x-last-death-")) continue;
    if (key === "x-delivery-count" || key === PUBLISH_ID_HEADER) continue;
    out[key] = value;
  }
  return out;
}

function bodyBuffer(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === "string") return Buffer.from(body, "utf8");
  return Buffer.from(JSON.stringify(body ?? null), "utf8");
}

/** The CloudEvent id of a stored message, or a digest of its body when it has none. */
function messageKey(message: SyncMessage): string {
  const id = headerString(message.headers?.["cloudEvents:id"]) ?? message.messageId;
  if (id !== undefined && id !== "") return id;
  return `sha256:${createHash("sha256").update(bodyBuffer(message.body)).digest("hex").slice(0, 32)}`;
}

function describeDeadLetter(queue: string, message: SyncMessage): DeadLetter {
  let event: CloudEvent | undefined;
  try {
    event = fromAmqpMessage(message);
  } catch {
    event = undefined;
  }
  const headers = message.headers ?? {};
  const deaths = Array.isArray(headers["x-death"]) ? (headers["x-death"] as Record<string, unknown>[]) : [];
  const crash = deaths.find((death) => death.reason === "delivery_limit");
  const at = headerString(headers[DEAD_LETTERED_AT_HEADER]);
  return {
    id: messageKey(message),
    queue,
    type: event?.type,
    source: event?.source,
    subject: event?.subject,
    time: event?.time,
    attempts: headerNumber(headers[ATTEMPT_HEADER]) ?? (crash === undefined ? undefined : CRASH_DELIVERY_LIMIT),
    error:
      headerString(headers[ERROR_HEADER]) ??
      (crash === undefined ? undefined : `delivered ${CRASH_DELIVERY_LIMIT} times without an outcome (consumer died?)`),
    deadLetteredAt: at === undefined ? undefined : new Date(at),
    dataBytes: bodyBuffer(message.body).length,
  };
}

/**
 * The RabbitMQ transport (AMQP 0-9-1 through rabbitmq-client, which re-declares exchanges,
 * queues and bindings on every reconnect and has publisher confirms):
 *
 * - events go to the durable topic exchange `<namespace>events`, routed by CloudEvent type; a
 *   subscribing service's quorum queue is bound to the types it handles;
 * - a task goes through the default exchange to its quorum work queue, published `mandatory`: while
 *   no worker has declared that queue yet it comes back, counts as not sent, and stays in the outbox;
 * - a failed delivery is re-published, with its attempt count, to `<queue>.retry.<attempt>`, where
 *   it waits out its backoff (per-message TTL) before RabbitMQ dead-letters it back; after the last
 *   attempt it goes to `<queue>.dead-letters` with the error;
 * - every publish is confirmed by the broker before the kit counts it sent or acks the delivery it
 *   replaces.
 */
export function createAmqpTransport(config: EventBusConfig, options: { service: string; logger: Logger }): Transport {
  const { logger } = options;
  const namespace = config.namespace;
  const exchange = eventsExchange(namespace);
  const exchangeDeclaration = { exchange, type: "topic", durable: true } as const;
  let rabbit: Connection | undefined;
  let publisher: Publisher | undefined;
  const returned = new Set<string>();
  const consumers: Consumer[] = [];
  const republishers: Publisher[] = [];

  function connection(): Connection {
    if (rabbit === undefined) throw new Error("the AMQP transport is not started");
    return rabbit;
  }

  function onReturn(message: ReturnedMessage): void {
    const id = headerString(message.headers?.[PUBLISH_ID_HEADER]);
    if (id !== undefined) returned.add(id);
  }

  /** Publishes one message; resolves with its publish id once the broker confirmed it. */
  async function publishOne(message: OutgoingMessage): Promise<string> {
    const amqp = toAmqpMessage(message.event);
    const publishId = randomUUID();
    const envelope: Envelope = {
      exchange: message.queue === undefined ? exchange : "",
      routingKey: message.queue === undefined ? message.event.type : physicalName(namespace, message.queue),
      mandatory: message.queue !== undefined,
      durable: true,
      contentType: amqp.contentType,
      messageId: amqp.messageId,
      type: amqp.type,
      timestamp: amqp.timestamp,
      appId: options.service,
      headers: { ...amqp.headers, [PUBLISH_ID_HEADER]: publishId },
    };
    await (publisher as Publisher).send(envelope, asBuffer(amqp.body));
    return publishId;
  }

  async function publish(messages: readonly OutgoingMessage[]): Promise<Array<Error | undefined>> {
    if (publisher === undefined) throw new Error("the AMQP transport is not started");
    const settled = await Promise.allSettled(messages.map(publishOne));
    // The broker sends basic.return for an unroutable mandatory message before its basic.ack, and
    // rabbitmq-client emits the return on the next setImmediate: after this one has run, every
    // return of this batch has been seen.
    await new Promise((resolve) => setImmediate(resolve));
    return settled.map((result, index) => {
      if (result.status === "rejected") {
        return result.reason instanceof Error ? result.reason : new Error(String(result.reason));
      }
      if (!returned.delete(result.value)) return undefined;
      const message = messages[index] as OutgoingMessage;
      return new Error(
        `no queue ${physicalName(namespace, message.queue ?? "")} for task ${message.event.type} yet (has its worker ever started?)`,
      );
    });
  }

  async function consume(spec: QueueConsumer): Promise<void> {
    const rabbitConnection = connection();
    const queue = physicalName(namespace, spec.queue);
    const deadLetters = deadLetterQueue(queue);
    const levels = Math.max(config.maxAttempts - 1, 0);
    const retryQueues = Array.from({ length: levels }, (_, index) => retryQueue(queue, index + 1));
    const sideQueues = [
      { queue: deadLetters, durable: true, arguments: DEAD_LETTER_QUEUE_ARGUMENTS },
      ...retryQueues.map((name) => ({ queue: name, durable: true, arguments: retryQueueArguments(queue) })),
    ];
    // Declared before the consumer starts (so nothing is ever dead-lettered into a missing
    // queue), and by the republisher again after every reconnect.
    for (const declaration of sideQueues) await rabbitConnection.queueDeclare(declaration);
    const republisher = rabbitConnection.createPublisher({ confirm: true, maxAttempts: 3, queues: sideQueues });
    republishers.push(republisher);

    const consumer = rabbitConnection.createConsumer(
      {
        queue,
        queueOptions: { durable: true, arguments: mainQueueArguments(queue) },
        qos: { prefetchCount: config.concurrency * 2 },
        concurrency: config.concurrency,
        requeue: true,
        exchanges: spec.eventTypes.length > 0 ? [exchangeDeclaration] : [],
        queueBindings: spec.eventTypes.map((type) => ({ exchange, queue, routingKey: type })),
      },
      async (message: AsyncMessage) => {
        // Our count of handler failures, plus the deliveries the quorum queue counted since (a
        // consumer that died mid-handler), so a crash counts as an attempt as on pg-boss.
        const attempt =
          (headerNumber(message.headers?.[ATTEMPT_HEADER]) ?? 1) +
          (headerNumber(message.headers?.["x-delivery-count"]) ?? 0);
        let received: Received;
        try {
          received = { ok: true, event: fromAmqpMessage(message), attempt };
        } catch (error) {
          received = {
            ok: false,
            error: error instanceof Error ? error : new Error(String(error)),
            attempt,
            messageId: message.messageId,
          };
        }
        const decision = await spec.handle(received);
        if (decision.outcome === "ack") return ConsumerStatus.ACK;
        const base: Envelope = {
          exchange: "",
          durable: true,
          contentType: message.contentType,
          messageId: message.messageId,
          type: message.type,
          timestamp: message.timestamp,
          appId: message.appId,
        };
        const headers = carriedHeaders(message.headers);
        if (decision.outcome === "retry") {
          const level = Math.min(attempt, levels);
          await republisher.send(
            {
              ...base,
              routingKey: retryQueue(queue, level),
              expiration: String(Math.max(decision.delayMs, 1)),
              headers: { ...headers, [ATTEMPT_HEADER]: attempt + 1, [ERROR_HEADER]: decision.error },
            },
            bodyBuffer(message.body),
          );
        } else {
          await republisher.send(
            {
              ...base,
              routingKey: deadLetters,
              headers: {
                ...headers,
                [ATTEMPT_HEADER]: attempt,
                [ERROR_HEADER]: decision.error,
                [QUEUE_HEADER]: spec.queue,
                [DEAD_LETTERED_AT_HEADER]: new Date().toISOString(),
              },
            },
            bodyBuffer(message.body),
          );
        }
        // Acked only after the broker confirmed the copy: a crash in between duplicates, never loses.
        return ConsumerStatus.ACK;
      },
    );
    consumers.push(consumer);
    consumer.on("error", (error: unknown) => logger.warn({ err: error, queue }, "AMQP consumer error"));
    await new Promise<void>((resolve, reject) => {
      let lastError: unknown;
      const timer = setTimeout(() => {
        consumer.off("ready", ready);
        consumer.off("error", failed);
        reject(new Error(`could not start consuming ${queue} within ${CONNECT_TIMEOUT_MS} ms`, { cause: lastError }));
      }, CONNECT_TIMEOUT_MS);
      function ready() {
        clearTimeout(timer);
        consumer.off("error", failed);
        resolve();
      }
      function failed(error: unknown) {
        lastError = error;
      }
      consumer.once("ready", ready);
      consumer.on("error", failed);
    });
  }

  /**
   * Takes every message of the dead-letter queue of `queue` (at most as many as it held at the
   * start) on one channel, lets `decide` ack or keep each, and requeues the kept ones where they were.
   */
  async function scanDeadLetters(
    queue: string,
    decide: (message: SyncMessage, channel: Awaited<ReturnType<Connection["acquire"]>>) => Promise<boolean>,
    maxScan = Number.POSITIVE_INFINITY,
  ): Promise<number> {
    const rabbitConnection = connection();
    const deadLetters = deadLetterQueue(physicalName(namespace, queue));
    const channel = await rabbitConnection.acquire();
    let taken = 0;
    const kept: number[] = [];
    try {
      await channel.confirmSelect();
      const messageCount = await deadLetterCount(channel, queue);
      for (let scanned = 0; scanned < Math.min(messageCount, maxScan); scanned++) {
        const message = await channel.basicGet({ queue: deadLetters });
        if (message === undefined) break;
        if (await decide(message, channel)) {
          channel.basicAck({ deliveryTag: message.deliveryTag });
          taken++;
        } else {
          kept.push(message.deliveryTag);
        }
      }
    } finally {
      for (const deliveryTag of kept) channel.basicNack({ deliveryTag, requeue: true });
      await channel.close();
    }
    return taken;
  }

  /** The message count of the dead-letter queue of `queue`, with a clear error when there is none. */
  async function deadLetterCount(
    channel: { queueDeclare: Connection["queueDeclare"] },
    queue: string,
  ): Promise<number> {
    const deadLetters = deadLetterQueue(physicalName(namespace, queue));
    try {
      const { messageCount } = await channel.queueDeclare({ queue: deadLetters, passive: true });
      return messageCount;
    } catch (error) {
      if ((error as { code?: unknown }).code === "NOT_FOUND") {
        throw new Error(
          `there is no dead-letter queue ${deadLetters}: has a consumer of ${queue} ever started (and is EVENT_BUS_NAMESPACE right)?`,
        );
      }
      throw error;
    }
  }

  function selects(selection: DeadLetterSelection): (message: SyncMessage) => boolean {
    if ("all" in selection) return () => true;
    const ids = new Set(selection.ids);
    return (message) => ids.has(messageKey(message));
  }

  return {
    name: "amqp",

    async start() {
      const rabbitConnection = new Connection({
        url: config.amqpUrl,
        connectionName: `${options.service} (obfy events)`,
        retryLow: 250,
        retryHigh: 5000,
        connectionTimeout: 5000,
      });
      rabbitConnection.on("error", (error: unknown) => logger.warn({ err: error }, "AMQP connection error"));
      rabbitConnection.on("connection", () => logger.debug({ url: redact(config.amqpUrl) }, "AMQP connected"));
      try {
        await rabbitConnection.onConnect(CONNECT_TIMEOUT_MS);
      } catch (error) {
        throw new Error(
          `RabbitMQ at ${redact(config.amqpUrl)} is not reachable (${error instanceof Error ? error.message : String(error)}); check AMQP_URL`,
          { cause: error },
        );
      }
      rabbit = rabbitConnection;
      publisher = rabbitConnection.createPublisher({ confirm: true, maxAttempts: 1, exchanges: [exchangeDeclaration] });
      // The `onReturn` option is documented but not wired in rabbitmq-client 5.0.8; the event is.
      publisher.on("basic.return", onReturn);
    },

    publish,

    consume,

    async stopConsuming() {
      await Promise.all(consumers.splice(0).map((consumer) => consumer.close()));
    },

    async listDeadLetters(queue, limit) {
      const found: DeadLetter[] = [];
      await scanDeadLetters(
        queue,
        async (message) => {
          found.push(describeDeadLetter(queue, message));
          return false;
        },
        limit,
      );
      return found;
    },

    async countDeadLetters(queue) {
      return deadLetterCount(connection(), queue);
    },

    async replayDeadLetters(queue, selection) {
      const target = physicalName(namespace, queue);
      const wanted = selects(selection);
      let unroutable = false;
      const replayed = await scanDeadLetters(queue, async (message, channel) => {
        if (!wanted(message) || unroutable) return false;
        let returnedNow = false;
        const onReturned = () => {
          returnedNow = true;
        };
        channel.once("basic.return", onReturned);
        const headers = carriedHeaders(message.headers);
        for (const key of [ATTEMPT_HEADER, ERROR_HEADER, QUEUE_HEADER, DEAD_LETTERED_AT_HEADER]) delete headers[key];
        // Confirmed (the channel is in confirm mode) before the dead letter is acked.
        await channel.basicPublish(
          {
            exchange: "",
            routingKey: target,
            mandatory: true,
            durable: true,
            contentType: message.contentType,
            messageId: message.messageId,
            type: message.type,
            timestamp: message.timestamp,
            appId: message.appId,
            headers,
          },
          bodyBuffer(message.body),
        );
        channel.off("basic.return", onReturned);
        if (returnedNow) unroutable = true;
        return !returnedNow;
      });
      if (unroutable) {
        throw new Error(
          `queue ${target} does not exist (has its consumer ever started?); replayed ${replayed}, the rest stay dead letters`,
        );
      }
      return replayed;
    },

    async discardDeadLetters(queue, selection) {
      const wanted = selects(selection);
      return scanDeadLetters(queue, async (message) => wanted(message));
    },

    async close() {
      await this.stopConsuming();
      await Promise.all([publisher, ...republishers.splice(0)].map((p) => p?.close()));
      publisher = undefined;
      await rabbit?.close();
      rabbit = undefined;
    },
  };
}
