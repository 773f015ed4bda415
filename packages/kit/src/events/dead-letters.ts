import type { Logger } from "../logger.js";
import { type EventBusConfig, readEventBusConfig } from "./config.js";
import { createTransport } from "./internal/create-transport.js";
import type { Transport } from "./internal/transport.js";

/** A message that exhausted its attempts (or could not be read) and waits in a dead-letter queue. */
export interface DeadLetter {
  /** The CloudEvent id, which {@link DeadLetters.replay} and {@link DeadLetters.discard} take. */
  readonly id: string;
  /** The queue it was dead-lettered from (logical name: a service, or a task type). */
  readonly queue: string;
  /** CloudEvent attributes, when the message could be read as one. */
  readonly type: string | undefined;
  readonly source: string | undefined;
  readonly subject: string | undefined;
  readonly time: string | undefined;
  /** Attempts made before it was dead-lettered, when known. */
  readonly attempts: number | undefined;
  /** The last error, as the handler or the kit reported it. */
  readonly error: string | undefined;
  readonly deadLetteredAt: Date | undefined;
  /** Size of the encoded data. */
  readonly dataBytes: number;
}

/** Which dead letters an operation is about: some, by CloudEvent id, or all of a queue's. */
export type DeadLetterSelection = { readonly ids: readonly string[] } | { readonly all: true };

/** List, replay and discard the dead letters of a queue. `queue` is a service name or a task type. */
export interface DeadLetters {
  /** The oldest `limit` (default 100) dead letters of `queue`, oldest first. */
  list(queue: string, options?: { limit?: number }): Promise<DeadLetter[]>;
  /** How many dead letters `queue` holds. */
  count(queue: string): Promise<number>;
  /**
   * Puts the selected dead letters back on `queue` with a fresh attempt count; returns how many.
   * Consumers are idempotent, so replaying an event that was handled after all changes nothing.
   */
  replay(queue: string, selection: DeadLetterSelection): Promise<number>;
  /** Deletes the selected dead letters for good; returns how many. */
  discard(queue: string, selection: DeadLetterSelection): Promise<number>;
}

/** {@link DeadLetters} on a connection of its own, for tools: close it when done. */
export interface DeadLetterAdmin extends DeadLetters {
  close(): Promise<void>;
}

/** Options for {@link openDeadLetters}. */
export interface OpenDeadLettersOptions {
  /** Default: {@link readEventBusConfig} of `process.env`. */
  config?: EventBusConfig;
  logger?: Logger;
}

const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 10_000;

/** Checks `limit` for {@link DeadLetters.list}. */
function listLimit(limit: number | undefined): number {
  const value = limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isInteger(value) || value < 1 || value > MAX_LIST_LIMIT) {
    throw new RangeError(`limit must be an integer between 1 and ${MAX_LIST_LIMIT}, got ${value}`);
  }
  return value;
}

/** Checks a selection: at least one id, each non-empty. */
function checkSelection(selection: DeadLetterSelection): DeadLetterSelection {
  if ("all" in selection) return selection;
  if (selection.ids.length === 0 || selection.ids.some((id) => typeof id !== "string" || id === "")) {
    throw new RangeError("give at least one dead-letter id (a CloudEvent id), or select all");
  }
  return selection;
}

/** The {@link DeadLetters} operations over a started transport. */
export function deadLettersOf(transport: Transport): DeadLetters {
  return {
    list: (queue, options = {}) => transport.listDeadLetters(queue, listLimit(options.limit)),
    count: (queue) => transport.countDeadLetters(queue),
    replay: (queue, selection) => transport.replayDeadLetters(queue, checkSelection(selection)),
    discard: (queue, selection) => transport.discardDeadLetters(queue, checkSelection(selection)),
  };
}

/**
 * Connects to the configured broker (`EVENT_BUS`, `AMQP_URL`, `EVENT_BUS_DATABASE_URL`,
 * `EVENT_BUS_NAMESPACE`) to manage dead letters, as `npm run dead-letters` and the back-office do.
 */
export async function openDeadLetters(options: OpenDeadLettersOptions = {}): Promise<DeadLetterAdmin> {
  const config = options.config ?? readEventBusConfig();
  const transport = createTransport(config, { service: "dead-letters", logger: options.logger });
  await transport.start();
  return { ...deadLettersOf(transport), close: () => transport.close() };
}
