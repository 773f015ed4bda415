import { envInt } from "@obfy/kit/core";

/** The Cart's own settings (the kit reads the rest: ports, database, event bus, TLS, ...). */
export interface CartConfig {
  /** `CATALOG_TIMEOUT_MS`: the time budget of one Catalog call (prices, titles). */
  readonly catalogTimeoutMs: number;
  /**
   * `INVENTORY_TIMEOUT_MS`: the time budget of one Inventory BatchGetStock. Past it the cart is
   * answered without stock (lines marked stock_unknown) rather than late.
   */
  readonly inventoryTimeoutMs: number;
}

/** Reads {@link CartConfig}; a bad value throws naming the variable. */
export function readCartConfig(env: NodeJS.ProcessEnv): CartConfig {
  return {
    catalogTimeoutMs: envInt(env, "CATALOG_TIMEOUT_MS", 2000, { min: 50, max: 60_000 }),
    inventoryTimeoutMs: envInt(env, "INVENTORY_TIMEOUT_MS", 1000, { min: 50, max: 60_000 }),
  };
}
