// The Cart service: a persisted cart per shopper and per anonymous visitor, merged at sign-in,
// priced from the Catalog and checked against the Inventory whenever it is read; ordered lines
// leave it when OrderPlaced arrives.
import { defineService } from "@obfy/kit/server";
import type { ServiceDefinition } from "@obfy/kit/service";
import { cartV1, catalogV1, inventoryV1 } from "@obfy/protos";
import { createCartHandlers } from "./cart-handlers.js";
import { readCartConfig } from "./config.js";
import { cartMigrations } from "./db/migrations/index.js";
import type { CartSchema } from "./db/schema.js";
import { subscribeOrders } from "./ordered-lines.js";

/** The Cart's definition: `runService(cartService)` runs it. */
export const cartService: ServiceDefinition<CartSchema> = {
  name: "cart",
  port: 50056,
  metricsPort: 9470,
  database: { migrations: [cartMigrations] },
  events: true,
  build({ env, database, bus, client, logger }) {
    const config = readCartConfig(env);
    subscribeOrders(bus);
    const catalog = client(catalogV1.CatalogServiceService, { name: "catalog", defaultAddress: "127.0.0.1:50052" });
    const inventory = client(inventoryV1.InventoryServiceService, {
      name: "inventory",
      defaultAddress: "127.0.0.1:50053",
    });
    return {
      services: [
        defineService(
          cartV1.CartServiceService,
          createCartHandlers({
            database,
            catalog,
            inventory,
            catalogTimeoutMs: config.catalogTimeoutMs,
            inventoryTimeoutMs: config.inventoryTimeoutMs,
            logger: logger.child({ component: "cart-view" }),
          }),
        ),
      ],
    };
  },
};
