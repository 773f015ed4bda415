// WatchStock's fan-out. Every change to a stock row fires the table's trigger, which NOTIFYs
// `inventory_stock` with the row's new numbers when its transaction commits, whichever replica
// made it. Each process holds ONE connection that LISTENs there and hands each notification to
// the watchers of that book in this process. A watcher keeps at most one pending value per book
// (the newest, by the row's version), so a slow reader costs at most one entry per watched book
// however fast stock changes; it gets the latest numbers, never a backlog.
import type { Logger } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type pg from "pg";
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

// Connection lost: LISTEN again after 0.5 s, doubling up to 10 s; on success every watcher's
// books are read again, so a change made while nobody listened is still delivered.
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 10_000;

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
  let listener: pg.PoolClient | undefined;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;

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

  function drop(client: pg.PoolClient, error: unknown): void {
    if (listener === client) listener = undefined;
    client.removeAllListeners("notification");
    client.on("error", () => {});
    client.release(error instanceof Error ? error : true);
  }

  function scheduleListen(): void {
    if (stopped || retry !== undefined) return;
    failures++;
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (failures - 1));
    retry = setTimeout(() => {
      retry = undefined;
      void listen();
    }, delay);
    retry.unref();
  }

  async function listen(): Promise<void> {
    if (stopped) return;
    let client: pg.PoolClient | undefined;
    try {
      client = await database.pool.connect();
      const held = client;
      let lost = false;
      held.on("error", (error) => {
        if (lost) return;
        lost = true;
        logger.warn({ err: error }, "Stock LISTEN connection lost; reconnecting");
        drop(held, error);
        scheduleListen();
      });
      held.on("notification", (message) => {
        if (message.channel !== STOCK_CHANNEL || message.payload === undefined) return;
        const snapshot = snapshotOfNotification(message.payload);
        if (snapshot === undefined) logger.warn({ payload: message.payload }, "Unreadable stock notification");
        else dispatch(snapshot);
      });
      await held.query(`LISTEN ${STOCK_CHANNEL}`);
      if (stopped) {
        // stop() ran while this connection was being set up: it did not see it, so it is given
        // back here, or the pool would wait for it forever when the service closes it.
        drop(held, new Error("the stock watch stopped"));
        return;
      }
      listener = held;
      if (failures > 0) {
        failures = 0;
        logger.info("Stock LISTEN connection back");
        await refreshAll();
      }
    } catch (error) {
      if (client !== undefined) drop(client, error);
      if (stopped) return;
      logger.warn({ err: error }, "Stock LISTEN failed; retrying");
      scheduleListen();
    }
  }

  return {
    get watchers() {
      return all.size;
    },
    async start() {
      stopped = false;
      await listen();
    },
    async stop() {
      stopped = true;
      clearTimeout(retry);
      for (const watcher of all) {
        watcher.closed = true;
        watcher.wake();
      }
      const client = listener;
      listener = undefined;
      if (client !== undefined) {
        client.removeAllListeners("notification");
        await client.query(`UNLISTEN ${STOCK_CHANNEL}`).then(
          () => client.release(),
          (error: Error) => client.release(error),
        );
      }
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
