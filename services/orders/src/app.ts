// The Orders service: orders, the checkout saga it orchestrates over events, the sweeper that
// ends every checkout in time, and live order status for watchers on every replica.
import { defineService } from "@obfy/kit/server";
import type { ServiceDefinition } from "@obfy/kit/service";
import { catalogV1, ordersV1 } from "@obfy/protos";
import { createCheckoutSweeper } from "./checkout-sweeper.js";
import { readOrdersConfig } from "./config.js";
import { ordersMigrations } from "./db/migrations/index.js";
import type { OrdersSchema } from "./db/schema.js";
import { createOrderWatch } from "./order-watch.js";
import { createOrdersHandlers } from "./orders-handlers.js";
import { subscribeSaga } from "./saga.js";

/** The Orders' definition: `runService(ordersService)` runs it. */
export const ordersService: ServiceDefinition<OrdersSchema> = {
  name: "orders",
  port: 50057,
  metricsPort: 9471,
  database: { migrations: [ordersMigrations] },
  events: true,
  build({ env, database, bus, logger, stopping, client }) {
    const config = readOrdersConfig(env);
    subscribeSaga(bus, { paymentTimeoutSeconds: config.paymentTimeoutSeconds, logger });
    const watch = createOrderWatch({ database, logger, pollMs: config.watchPollMs });
    const catalog = client(catalogV1.CatalogServiceService, { name: "catalog", defaultAddress: "127.0.0.1:50052" });
    return {
      services: [
        defineService(
          ordersV1.OrdersServiceService,
          createOrdersHandlers({
            database,
            bus,
            catalog,
            watch,
            stockTimeoutSeconds: config.stockTimeoutSeconds,
            catalogTimeoutMs: config.catalogTimeoutMs,
            stopping,
          }),
        ),
      ],
      background: [
        { name: "order-watch", start: () => watch.start(), stop: () => watch.stop() },
        createCheckoutSweeper({ database, bus, logger, intervalMs: config.sweepIntervalMs }),
      ],
    };
  },
};
