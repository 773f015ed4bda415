import type { Transaction } from "kysely";

/** An event or task as its handler receives it. */
export interface ReceivedEvent<T> {
  /** CloudEvent id. */
  readonly id: string;
  /** Full protobuf message name. */
  readonly type: string;
  /** The producing service, `/bookstore/<service>`. */
  readonly source: string;
  readonly subject: string | undefined;
  /** When the producer recorded it. */
  readonly time: Date;
  /** The decoded message. */
  readonly data: T;
  /** 1 on the first delivery, then 2, 3, … up to `EVENT_BUS_MAX_ATTEMPTS`. */
  readonly attempt: number;
}

/**
 * A handler: its database effects go through `trx`, the transaction in which the kit also
 * records the event id as handled, so they commit once or not at all. It may publish further
 * events with the same `trx`. Throwing rolls everything back and schedules a retry.
 */
export type EventHandler<DB, T> = (event: ReceivedEvent<T>, trx: Transaction<DB>) => Promise<void>;

/**
 * Thrown by a handler for a message that can never succeed (it contradicts the consumer's data,
 * say): the message goes to the dead-letter queue at once, without the remaining attempts.
 */
export class NonRetryableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NonRetryableError";
  }
}
