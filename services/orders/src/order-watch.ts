// WatchOrder's fan-out. Every change to an order row fires the table's trigger, which NOTIFYs
// `orders_changed` with the order's id when its transaction commits, whichever replica made it.
// Each process holds ONE connection that LISTENs there and wakes the watchers of that order in
// this process; a woken watcher reads the order again and sends it if its version moved. Each
// watcher also re-reads every ORDER_WATCH_POLL_MS, so a notification lost with a connection
// delays a change by at most that long and never loses it.
import type { Logger } from "@obfy/kit/core";
import { type Database, listenToChannel } from "@obfy/kit/db";
import { ORDERS_CHANNEL } from "./db/migrations/0001-create-orders.js";
import { findOrder, type StoredOrder } from "./db/orders.js";
import type { OrdersSchema } from "./db/schema.js";
import { FINAL_STATUSES } from "./order-view.js";

/** Thrown out of a watch when the process stops serving. */
export class WatchClosedError extends Error {
  constructor() {
    super("order watch closed");
    this.name = "WatchClosedError";
  }
}

/** The process's fan-out of order changes. */
export interface OrderWatch {
  /** LISTENs (and keeps reconnecting while running). */
  start(): Promise<void>;
  /** Ends every watch with {@link WatchClosedError} and releases the connection. */
  stop(): Promise<void>;
  /**
   * `first` (the order as the caller read it), then the order after every change, until it
   * reaches a final status (the iteration ends after yielding it), `signal` aborts (it ends),
   * or the watch is stopped (it throws {@link WatchClosedError}).
   */
  watch(first: StoredOrder, signal: AbortSignal): AsyncIterable<StoredOrder>;
  /** Watchers open in this process. */
  readonly watchers: number;
}

class Watcher {
  #dirty = false;
  #wake: (() => void) | undefined;
  closed = false;

  constructor(readonly orderId: string) {}

  poke(): void {
    this.#dirty = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Waits until poked, closed, aborted or `pollMs` passed; clears the poke. */
  async next(signal: AbortSignal, pollMs: number): Promise<void> {
    if (!this.#dirty && !this.closed && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#wake = undefined;
    this.#dirty = false;
  }
}

/** Creates the process's {@link OrderWatch} on the service's database (one pooled connection is held for LISTEN). */
export function createOrderWatch(options: {
  readonly database: Database<OrdersSchema>;
  readonly logger: Logger;
  /** How often a watcher re-reads its order without a notification. */
  readonly pollMs: number;
}): OrderWatch {
  const { database } = options;
  const logger = options.logger.child({ component: "order-watch" });
  const byOrder = new Map<string, Set<Watcher>>();
  const all = new Set<Watcher>();
  let stopped = false;
  const listener = listenToChannel({
    source: database.pool,
    channel: ORDERS_CHANNEL,
    logger,
    name: "Orders",
    onNotification(orderId) {
      for (const watcher of byOrder.get(orderId ?? "") ?? []) watcher.poke();
    },
    onListening(reconnected) {
      // What changed while nobody listened: every watcher reads its order again.
      if (reconnected) for (const watcher of all) watcher.poke();
    },
  });

  return {
    get watchers() {
      return all.size;
    },
    async start() {
      stopped = false;
      await listener.start();
    },
    async stop() {
      stopped = true;
      for (const watcher of all) {
        watcher.closed = true;
        watcher.poke();
      }
      await listener.stop();
    },
    async *watch(first, signal) {
      if (stopped) throw new WatchClosedError();
      const watcher = new Watcher(first.id);
      const onAbort = () => watcher.poke();
      all.add(watcher);
      const set = byOrder.get(first.id) ?? new Set<Watcher>();
      byOrder.set(first.id, set);
      set.add(watcher);
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        // Registered before this read: a change committed meanwhile is in it, or pokes the watcher.
        let sent = await findOrder(database.kysely, first.id);
        if (sent === undefined || BigInt(sent.version) < BigInt(first.version)) sent = first;
        yield sent;
        while (!FINAL_STATUSES.has(sent.status)) {
          await watcher.next(signal, options.pollMs);
          if (signal.aborted) return;
          if (watcher.closed) throw new WatchClosedError();
          let current: StoredOrder | undefined;
          try {
            current = await findOrder(database.kysely, first.id, { signal });
          } catch (error) {
            if (signal.aborted) return;
            // The database is away for a moment: the next poll or notification tries again.
            logger.warn({ err: error, order_id: first.id }, "Order watch read failed");
            continue;
          }
          if (current !== undefined && BigInt(current.version) > BigInt(sent.version)) {
            sent = current;
            yield current;
          }
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
        all.delete(watcher);
        set.delete(watcher);
        if (set.size === 0) byOrder.delete(first.id);
      }
    },
  };
}
