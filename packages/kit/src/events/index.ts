/**
 * Events for Online Books For You services (`@obfy/kit/events`): a transactional outbox,
 * idempotent consumers, publish/subscribe and work queues, retries with backoff and dead-letter
 * queues, over pg-boss (`EVENT_BUS=postgres`) or RabbitMQ (`EVENT_BUS=amqp`). See docs/events.md.
 * @packageDocumentation
 */

export {
  AMQP_ATTRIBUTE_PREFIX,
  type AmqpCloudEventMessage,
  CLOUDEVENTS_JSON_CONTENT_TYPE,
  CLOUDEVENTS_SPEC_VERSION,
  type CloudEvent,
  fromAmqpMessage,
  fromStructuredCloudEvent,
  InvalidCloudEventError,
  PROTOBUF_CONTENT_TYPE,
  type StructuredCloudEvent,
  toAmqpMessage,
  toStructuredCloudEvent,
} from "./cloudevents.js";
export { DEFAULT_AMQP_URL, type EventBusConfig, type EventTransportName, readEventBusConfig } from "./config.js";
export {
  type DeadLetter,
  type DeadLetterAdmin,
  type DeadLetterSelection,
  type DeadLetters,
  type OpenDeadLettersOptions,
  openDeadLetters,
} from "./dead-letters.js";
export { createDeadLettersService, type DeadLettersServiceOptions } from "./dead-letters-service.js";
export {
  type CreateEventBusOptions,
  createEventBus,
  type EventBus,
  eventSource,
  type PublishOptions,
} from "./event-bus.js";
export { type EventHandler, NonRetryableError, type ReceivedEvent } from "./handler.js";
export { type MessageType, messageTypeName } from "./message-type.js";
export { eventsMigrations, OUTBOX_CHANNEL } from "./migrations.js";
export type { EventTables, OutboxTable, ProcessedEventsTable } from "./tables.js";
