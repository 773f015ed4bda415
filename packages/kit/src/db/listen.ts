// One connection that LISTENs on a PostgreSQL channel for as long as its owner runs: how a
// process hears the NOTIFYs of changes committed by any replica (Orders' WatchOrder, Inventory's
// WatchStock, Recommendations' model reloads, the events outbox relay). A lost connection is
// logged and LISTENed again with backoff; `onListening(true)` then tells the owner that
// notifications may have been missed meanwhile, so it re-reads what it serves. NOTIFY is no
// delivery guarantee, so every owner also polls: a lost notification delays a change, never
// loses it.
import pg from "pg";
import type { Logger } from "../logger.js";

export interface ChannelListenerOptions {
  /** The service's pool (one of its connections is held), or a connection string (a connection of its own). */
  readonly source: pg.Pool | string;
  /** The channel, a plain lower-case SQL identifier (it is written into `LISTEN`). */
  readonly channel: string;
  readonly logger: Logger;
  /** Names the listener in its log lines: "`name` LISTEN connection lost; reconnecting". */
  readonly name: string;
  /** Each notification on the channel, with its payload. */
  readonly onNotification: (payload: string | undefined) => void;
  /**
   * After each LISTEN that took: `reconnected` is true after a lost connection or a failed try,
   * when notifications may have been missed. A throw counts as a failed LISTEN (retried).
   */
  readonly onListening?: (reconnected: boolean) => void | Promise<void>;
  /** First retry delay, doubling up to `retryMaxMs`: 500 ms and 10 s by default. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
}

export interface ChannelListener {
  /** LISTENs; a failure is logged and retried with backoff, so this never throws. */
  start(): Promise<void>;
  /**
   * Stops retrying, UNLISTENs and gives the connection back. A LISTEN still being set up when
   * this runs gives its connection back itself once it completes, so a pool can always end.
   */
  stop(): Promise<void>;
}

type Connection = pg.Client | pg.PoolClient;

/** Creates a {@link ChannelListener}; nothing connects before `start()`. */
export function listenToChannel(options: ChannelListenerOptions): ChannelListener {
  const { source, channel, logger, name } = options;
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a plain channel name: ${JSON.stringify(channel)}`);
  const retryBaseMs = options.retryBaseMs ?? 500;
  const retryMaxMs = options.retryMaxMs ?? 10_000;
  let running = false;
  let held: Connection | undefined;
  // The held connection's 'error' listener, taken off when a pool's connection goes back to it.
  let heldOnError: ((error: Error) => void) | undefined;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;
  const dropped = new WeakSet<Connection>();

  function drop(client: Connection, error?: unknown): void {
    if (held === client) {
      held = undefined;
      heldOnError = undefined;
    }
    if (dropped.has(client)) return;
    dropped.add(client);
    client.removeAllListeners("notification");
    client.on("error", () => {});
    if ("release" in client) client.release(error instanceof Error ? error : true);
    else void client.end().catch(() => {});
  }

  function scheduleListen(): void {
    if (!running || retry !== undefined) return;
    failures++;
    retry = setTimeout(
      () => {
        retry = undefined;
        void listen();
      },
      Math.min(retryMaxMs, retryBaseMs * 2 ** (failures - 1)),
    );
    retry.unref();
  }

  async function listen(): Promise<void> {
    if (!running) return;
    let client: Connection | undefined;
    const onError = (error: Error): void => {
      if (client === undefined || dropped.has(client)) return;
      logger.warn({ err: error }, `${name} LISTEN connection lost; reconnecting`);
      drop(client, error);
      scheduleListen();
    };
    try {
      if (typeof source === "string") {
        client = new pg.Client({ connectionString: source, keepAlive: true });
        client.on("error", onError);
        await client.connect();
      } else {
        client = await source.connect();
        client.on("error", onError);
      }
      client.on("notification", (message) => {
        if (message.channel === channel) options.onNotification(message.payload);
      });
      await client.query(`LISTEN ${channel}`);
      if (!running) {
        // stop() ran while this connection was being set up and could not see it.
        drop(client);
        return;
      }
      held = client;
      heldOnError = onError;
      const reconnected = failures > 0;
      failures = 0;
      if (reconnected) logger.info(`${name} LISTEN connection back`);
      await options.onListening?.(reconnected);
    } catch (error) {
      if (client !== undefined) drop(client, error);
      if (!running) return;
      logger.warn({ err: error }, `${name} LISTEN failed; retrying`);
      scheduleListen();
    }
  }

  return {
    async start() {
      running = true;
      failures = 0;
      await listen();
    },
    async stop() {
      running = false;
      clearTimeout(retry);
      retry = undefined;
      const client = held;
      const onError = heldOnError;
      held = undefined;
      heldOnError = undefined;
      if (client === undefined) return;
      dropped.add(client);
      client.removeAllListeners("notification");
      if ("release" in client) {
        // Back to the service's pool, not listening any more; this listener's 'error' handler
        // comes off once the pool holds it (an idle connection's errors are the pool's).
        await client.query(`UNLISTEN ${channel}`).then(
          () => client.release(),
          (error: Error) => client.release(error),
        );
        if (onError !== undefined) client.off("error", onError);
      } else {
        await client.end().catch(() => {});
      }
    },
  };
}
