// WatchStock's fan-out. Every change to a stock row fires the table's trigger, which NOTIFYs
// `inventory_stock` with the row's new numbers when its transaction commits, whichever replica
// made it. Each process holds ONE connection that LISTENs there and hands each notification to
// the watchers of that book in this process. A watcher keeps at most one pending value per book
// (the newest, by the row's version), so a slow reader costs at most one entry per watched book
// however fast stock changes; it gets the latest numbers, never a backlog.
import type { Logger } from "@obfy/kit/core";
import { type Database, listenToChannel } from "@obfy/kit/db";
import { STOCK_CHANNEL } from "./db/migrations/0001-create-stock-and-reservations.js";
import type { InventorySchema } from "./db/schema.js";
import { findStocks } from "./db/stock.js";

/** A book's stock as watchers receive it. */
export interface StockSnapshot {
  readonly bookId: string;
  readonly onHand: number;
  readonly reserved: number;
  /** The row's version; 0 for a book without a row. */
  readonly version: number;
  /** When it last changed (epoch ms); 0 for a book without a row. */
  readonly updatedAtMs: number;
}

/** Thrown out of a watch when the process stops serving. */
export class WatchClosedError extends Error {
  constructor() {
    super("stock watch closed");
    this.name = "WatchClosedError";
  }
}

/** The process's fan-out of stock changes. */
export interface StockWatch {
  /** LISTENs (and keeps reconnecting while running). */
  start(): Promise<void>;
  /** Ends every watch with {@link WatchClosedError} and releases the connection. */
  stop(): Promise<void>;
  /**
   * The current stock of each book (in the order given), then every change, until `signal`
   * aborts (the iteration then ends) or the watch is stopped (it throws {@link WatchClosedError}).
   */
  watch(bookIds: readonly string[], signal: AbortSignal): AsyncIterable<StockSnapshot>;
  /** Watchers open in this process. */
  readonly watchers: number;
}

// Connection lost: the kit's listenToChannel LISTENs again after 0.5 s, doubling up to 10 s; on
// success every watcher's books are read again, so a change made while nobody listened is still
// delivered.

class Watcher {
  readonly #pending = new Map<string, StockSnapshot>();
  readonly #sent = new Map<string, number>();
  #wake: (() => void) | undefined;
  closed = false;

  constructor(readonly bookIds: ReadonlySet<string>) {}

  /** Keeps `snapshot` unless this watcher already has (or sent) that version or a newer one. */
  offer(snapshot: StockSnapshot): void {
    const known = Math.max(this.#sent.get(snapshot.bookId) ?? -1, this.#pending.get(snapshot.bookId)?.version ?? -1);
    if (snapshot.version <= known) return;
    this.#pending.set(snapshot.bookId, snapshot);
    this.wake();
  }

  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The first value of a book: what was read, or a newer notification that raced the read. */
  takeInitial(read: StockSnapshot): StockSnapshot {
    const pending = this.#pending.get(read.bookId);
    const snapshot = pending !== undefined && pending.version > read.version ? pending : read;
    this.#pending.delete(read.bookId);
    this.#sent.set(read.bookId, snapshot.version);
    return snapshot;
  }

  /** Waits until something is pending, the watcher is closed or `signal` aborts. */
  async next(signal: AbortSignal): Promise<StockSnapshot | undefined> {
    while (this.#pending.size === 0 && !this.closed && !signal.aborted) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    const first = this.#pending.entries().next();
    if (first.done) return undefined;
    const [bookId, snapshot] = first.value;
    this.#pending.delete(bookId);
    this.#sent.set(bookId, snapshot.version);
    return snapshot;
  }
}

function snapshotOfNotification(payload: string): StockSnapshot | undefined {
  try {
    const value = JSON.parse(payload) as Record<string, unknown>;
    const { book_id, on_hand, reserved, version, updated_at } = value;
    if (typeof book_id !== "string" || typeof on_hand !== "number" || typeof reserved !== "number") return undefined;
    return {
      bookId: book_id,
      onHand: on_hand,
      reserved,
      version: Number(version),
      updatedAtMs: Math.round(Number(updated_at) * 1000),
    };
  } catch {
    return undefined;
  }
}

/** Creates the process's {@link StockWatch} on the service's database (one pooled connection is held for LISTEN). */
export function createStockWatch(options: {
  readonly database: Database<InventorySchema>;
  readonly logger: Logger;
}): StockWatch {
  const { database } = options;
  const logger = options.logger.child({ component: "stock-watch" });
  const byBook = new Map<string, Set<Watcher>>();
  const all = new Set<Watcher>();
  let stopped = false;

  function dispatch(snapshot: StockSnapshot): void {
    for (const watcher of byBook.get(snapshot.bookId) ?? []) watcher.offer(snapshot);
  }

  async function read(bookIds: readonly string[]): Promise<StockSnapshot[]> {
    const rows = await findStocks(database.kysely, bookIds);
    const found = new Map(rows.map((r) => [r.book_id, r]));
    return bookIds.map((bookId) => {
      const row = found.get(bookId);
      return row === undefined
        ? { bookId, onHand: 0, reserved: 0, version: 0, updatedAtMs: 0 }
        : {
            bookId,
            onHand: row.on_hand,
            reserved: row.reserved,
            version: Number(row.version),
            updatedAtMs: row.updated_at.getTime(),
          };
    });
  }

  async function refreshAll(): Promise<void> {
    const ids = [...byBook.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      for (const snapshot of await read(ids.slice(i, i + 500))) dispatch(snapshot);
    }
  }

  const listener = listenToChannel({
    source: database.pool,
    channel: STOCK_CHANNEL,
    logger,
    name: "Stock",
    onNotification(payload) {
      const snapshot = payload === undefined ? undefined : snapshotOfNotification(payload);
      if (snapshot === undefined) logger.warn({ payload }, "Unreadable stock notification");
      else dispatch(snapshot);
    },
    // What changed while nobody listened: every watched book is read again.
    onListening: (reconnected) => (reconnected ? refreshAll() : undefined),
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
        watcher.wake();
      }
      await listener.stop();
    },
    async *watch(bookIds, signal) {
      if (stopped) throw new WatchClosedError();
      const watcher = new Watcher(new Set(bookIds));
      const onAbort = () => watcher.wake();
      all.add(watcher);
      for (const bookId of watcher.bookIds) {
        const set = byBook.get(bookId) ?? new Set<Watcher>();
        byBook.set(bookId, set);
        set.add(watcher);
      }
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        // Registered before reading: a change committed meanwhile is either in this read or
        // already pending as a notification, and the newer of the two (by version) is sent.
        const current = await read(bookIds);
        for (const snapshot of current) {
          if (signal.aborted) return;
          if (watcher.closed) throw new WatchClosedError();
          yield watcher.takeInitial(snapshot);
        }
        while (true) {
          const snapshot = await watcher.next(signal);
          if (signal.aborted) return;
          if (watcher.closed) throw new WatchClosedError();
          if (snapshot !== undefined) yield snapshot;
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
        all.delete(watcher);
        for (const bookId of watcher.bookIds) {
          const set = byBook.get(bookId);
          set?.delete(watcher);
          if (set?.size === 0) byBook.delete(bookId);
        }
      }
    },
  };
}
