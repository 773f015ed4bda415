import type { Logger } from "../../logger.js";

/** Options for {@link AvailabilityMonitor}. */
export interface AvailabilityMonitorOptions {
  /** The database's name, for log lines. */
  readonly name: string;
  readonly logger: Logger;
  /** One health check: resolves when the database answered, rejects when it did not. */
  readonly probe: () => Promise<void>;
  /** Time between checks while the database answers. */
  readonly intervalMs: number;
  /** Time between checks while it does not: recovery is noticed this fast. */
  readonly retryMs: number;
}

type State = "unknown" | "available" | "unavailable";

/** A one-line reason: an error's message, or its first inner error's (connecting to a name with two addresses). */
export function describe(error: unknown): string {
  if (error instanceof AggregateError && error.message === "" && error.errors[0] !== undefined) {
    return describe(error.errors[0]);
  }
  return error instanceof Error ? error.message || error.name : String(error);
}

/**
 * Knows whether a database answers: from a periodic check, from a check run at once when a
 * query fails to connect, and from queries that succeed. Tells listeners on every change, so a
 * server can report NOT_SERVING while the database is away and SERVING when it is back,
 * without a restart.
 */
export class AvailabilityMonitor {
  readonly #options: AvailabilityMonitorOptions;
  readonly #listeners = new Set<(available: boolean) => void>();
  #state: State = "unknown";
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<boolean> | undefined;
  #stopped = false;

  constructor(options: AvailabilityMonitorOptions) {
    this.#options = options;
  }

  get available(): boolean {
    return this.#state === "available";
  }

  /** Calls `listener` now with the current state, then on every change; returns the unsubscribe. */
  onChange(listener: (available: boolean) => void): () => void {
    this.#listeners.add(listener);
    listener(this.available);
    return () => this.#listeners.delete(listener);
  }

  /** Starts the periodic checks, the first one now. */
  start(): void {
    void this.check();
  }

  /** Checks now (or joins the check under way); resolves with the result. */
  check(): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(this.available);
    this.#checking ??= this.#options
      .probe()
      .then(
        () => {
          this.#set("available");
          return true;
        },
        (error: unknown) => {
          this.#set("unavailable", error);
          return false;
        },
      )
      .finally(() => {
        this.#checking = undefined;
        this.#schedule();
      });
    return this.#checking;
  }

  /**
   * A query could not reach the database: check now rather than at the next interval. While
   * the database is known to be away, the retry timer already checks every `retryMs`: failing
   * calls do not add checks of their own.
   */
  suspect(): void {
    if (this.#state !== "unavailable") void this.check();
  }

  /** A query succeeded: the database answers. */
  confirm(): void {
    if (this.#state !== "available" && this.#checking === undefined) this.#set("available");
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#listeners.clear();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    const delay = this.#state === "available" ? this.#options.intervalMs : this.#options.retryMs;
    this.#timer = setTimeout(() => void this.check(), delay);
    // Health checks alone never keep a process alive.
    this.#timer.unref();
  }

  #set(state: State, error?: unknown): void {
    const previous = this.#state;
    if (state === previous || this.#stopped) return;
    this.#state = state;
    const { name, logger } = this.#options;
    if (state === "unavailable") {
      const reason = describe(error);
      logger.warn({ database: name, reason }, `The ${name} database is unavailable: ${reason}`);
    } else if (previous === "unavailable") {
      logger.info({ database: name }, `The ${name} database is available again`);
    } else {
      logger.debug({ database: name }, `Connected to the ${name} database`);
    }
    // Listeners hear of changes of `available`: unknown → unavailable is none.
    if ((previous === "available") !== (state === "available")) {
      for (const listener of this.#listeners) listener(state === "available");
    }
  }
}
