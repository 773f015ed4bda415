import type { CloudEvent } from "../cloudevents.js";
import type { EventTransportName } from "../config.js";
import type { DeadLetter, DeadLetterSelection } from "../dead-letters.js";

/** What the relay hands a transport: one outbox row as a CloudEvent and where it goes. */
export interface OutgoingMessage {
  readonly event: CloudEvent;
  /** The work queue of a task (logical name); `undefined` for an event, which goes to every subscriber. */
  readonly queue: string | undefined;
}

/** One delivery of a message, as the transport read it. */
export type Received =
  | { readonly ok: true; readonly event: CloudEvent; readonly attempt: number }
  | { readonly ok: false; readonly error: Error; readonly attempt: number; readonly messageId: string | undefined };

/** What the transport must do with a delivery once the handler ran. */
export type Decision =
  | { readonly outcome: "ack" }
  | { readonly outcome: "retry"; readonly delayMs: number; readonly error: string }
  | { readonly outcome: "dead-letter"; readonly error: string };

/** A queue this process consumes, and how each delivery is handled. */
export interface QueueConsumer {
  /** Logical name (without the namespace). */
  readonly queue: string;
  /** Event types bound to it (publish/subscribe); empty for a task's work queue. */
  readonly eventTypes: readonly string[];
  readonly handle: (received: Received) => Promise<Decision>;
}

/** A broker behind the event bus API. Both implementations pass the same conformance suite. */
export interface Transport {
  readonly name: EventTransportName;
  /** Connects. Rejects with a clear message when the broker is unreachable at start. */
  start(): Promise<void>;
  /**
   * Publishes every message; each entry of the result is `undefined` once the broker confirmed
   * that message (stored in every queue it routes to), or the error that stopped it.
   */
  publish(messages: readonly OutgoingMessage[]): Promise<Array<Error | undefined>>;
  /** Declares the queue (and its retry and dead-letter queues, and bindings) and starts consuming. */
  consume(consumer: QueueConsumer): Promise<void>;
  /** Stops every consumer, waiting for the handlers in flight. */
  stopConsuming(): Promise<void>;
  listDeadLetters(queue: string, limit: number): Promise<DeadLetter[]>;
  countDeadLetters(queue: string): Promise<number>;
  replayDeadLetters(queue: string, selection: DeadLetterSelection): Promise<number>;
  discardDeadLetters(queue: string, selection: DeadLetterSelection): Promise<number>;
  close(): Promise<void>;
}

/** Most characters of an error message carried with a retried or dead-lettered message. */
export const MAX_ERROR_CHARS = 1000;

/** `message` cut to {@link MAX_ERROR_CHARS}. */
export function truncateError(message: string): string {
  return message.length <= MAX_ERROR_CHARS ? message : `${message.slice(0, MAX_ERROR_CHARS - 1)}…`;
}
