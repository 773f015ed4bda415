import { envInt, envString } from "@obfy/kit/core";
import { DEFAULT_OPENING_STOCK_FILE } from "./opening-stock.js";

/** The Inventory's own settings (the kit reads the rest: ports, database, event bus, TLS, ...). */
export interface InventoryConfig {
  /** `RESERVATION_TTL_SECONDS`: how long a reservation holds stock unless its request says otherwise. */
  readonly reservationTtlSeconds: number;
  /** `RESERVATION_SWEEP_INTERVAL_MS`: how often expired reservations are released. */
  readonly sweepIntervalMs: number;
  /** `OPENING_STOCK_FILE`: the warehouse's opening stocktake (ISBN → quantity). */
  readonly openingStockFile: string;
}

/** Reads {@link InventoryConfig}; a bad value throws naming the variable. */
export function readInventoryConfig(env: NodeJS.ProcessEnv): InventoryConfig {
  return {
    reservationTtlSeconds: envInt(env, "RESERVATION_TTL_SECONDS", 900, { min: 1, max: 3600 }),
    sweepIntervalMs: envInt(env, "RESERVATION_SWEEP_INTERVAL_MS", 1000, { min: 50, max: 600_000 }),
    openingStockFile: envString(env, "OPENING_STOCK_FILE", DEFAULT_OPENING_STOCK_FILE),
  };
}
