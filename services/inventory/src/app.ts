// The Inventory service: stock per book and reservations that never oversell, the checkout
// saga's stock step, and live stock for watchers on every replica.
import { defineService } from "@obfy/kit/server";
import type { ServiceDefinition } from "@obfy/kit/service";
import { catalogV1, inventoryV1 } from "@obfy/protos";
import { createCatalogBackfill, subscribeCatalog } from "./catalog-books.js";
import { readInventoryConfig } from "./config.js";
import { inventoryMigrations } from "./db/migrations/index.js";
import type { InventorySchema } from "./db/schema.js";
import { createInventoryHandlers } from "./inventory-handlers.js";
import { loadOpeningStock } from "./opening-stock.js";
import { createReservationSweeper } from "./reservation-sweeper.js";
import { subscribeSaga } from "./saga.js";
import { createStockWatch } from "./stock-watch.js";

/** The Inventory's definition: `runService(inventoryService)` runs it. */
export const inventoryService: ServiceDefinition<InventorySchema> = {
  name: "inventory",
  port: 50053,
  metricsPort: 9467,
  database: { migrations: [inventoryMigrations] },
  events: true,
  build({ env, database, bus, logger, stopping, client }) {
    const config = readInventoryConfig(env);
    const opening = loadOpeningStock(config.openingStockFile);
    subscribeCatalog(bus, opening);
    subscribeSaga(bus, { reservationTtlSeconds: config.reservationTtlSeconds, logger });
    const watch = createStockWatch({ database, logger });
    const catalog = client(catalogV1.CatalogServiceService, { name: "catalog", defaultAddress: "127.0.0.1:50052" });
    return {
      services: [
        defineService(
          inventoryV1.InventoryServiceService,
          createInventoryHandlers({
            database,
            bus,
            watch,
            reservationTtlSeconds: config.reservationTtlSeconds,
            stopping,
          }),
        ),
      ],
      background: [
        { name: "stock-watch", start: () => watch.start(), stop: () => watch.stop() },
        createReservationSweeper({ database, bus, logger, intervalMs: config.sweepIntervalMs }),
        createCatalogBackfill({ database, catalog, opening, logger }),
      ],
    };
  },
};
