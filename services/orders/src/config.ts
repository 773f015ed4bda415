import { envInt } from "@obfy/kit/core";

/** The Orders' own settings (the kit reads the rest: ports, database, event bus, TLS, ...). */
export interface OrdersConfig {
  /** `CHECKOUT_STOCK_TIMEOUT_SECONDS`: how long a new order waits for Inventory's answer. */
  readonly stockTimeoutSeconds: number;
  /** `CHECKOUT_PAYMENT_TIMEOUT_SECONDS`: how long an order with stock held waits for Payments' answer. */
  readonly paymentTimeoutSeconds: number;
  /** `CHECKOUT_SWEEP_INTERVAL_MS`: how often orders past their deadline are cancelled. */
  readonly sweepIntervalMs: number;
  /** `ORDER_WATCH_POLL_MS`: how often an open WatchOrder re-reads its order without a notification. */
  readonly watchPollMs: number;
  /** `CATALOG_TIMEOUT_MS`: the deadline of PlaceOrder's BatchGetBooks call. */
  readonly catalogTimeoutMs: number;
}

/** Reads {@link OrdersConfig}; a bad value throws naming the variable. */
export function readOrdersConfig(env: NodeJS.ProcessEnv): OrdersConfig {
  return {
    stockTimeoutSeconds: envInt(env, "CHECKOUT_STOCK_TIMEOUT_SECONDS", 30, { min: 1, max: 3600 }),
    paymentTimeoutSeconds: envInt(env, "CHECKOUT_PAYMENT_TIMEOUT_SECONDS", 60, { min: 1, max: 3600 }),
    sweepIntervalMs: envInt(env, "CHECKOUT_SWEEP_INTERVAL_MS", 1000, { min: 50, max: 600_000 }),
    watchPollMs: envInt(env, "ORDER_WATCH_POLL_MS", 5000, { min: 50, max: 600_000 }),
    catalogTimeoutMs: envInt(env, "CATALOG_TIMEOUT_MS", 5000, { min: 100, max: 60_000 }),
  };
}
