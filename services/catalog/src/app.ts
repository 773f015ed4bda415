// The Catalog service: books, categories, search and generated covers; the seed step on an
// empty database; rating summaries from Reviews' events.
import { defineService } from "@obfy/kit/server";
import type { ServiceDefinition } from "@obfy/kit/service";
import { catalogV1 } from "@obfy/protos";
import { createCatalogHandlers } from "./catalog-handlers.js";
import { readCatalogConfig } from "./config.js";
import { catalogMigrations } from "./db/migrations/index.js";
import type { CatalogSchema } from "./db/schema.js";
import { subscribeReviews } from "./ratings.js";
import { loadCatalogData, seedCatalog } from "./seed.js";

/** The Catalog's definition: `runService(catalogService)` runs it. */
export const catalogService: ServiceDefinition<CatalogSchema> = {
  name: "catalog",
  port: 50052,
  metricsPort: 9466,
  database: { migrations: [catalogMigrations] },
  events: true,
  async build({ env, database, bus, logger }) {
    const config = readCatalogConfig(env);
    subscribeReviews(bus, logger);
    // Before the gRPC port opens: a Catalog that answers has its books.
    if (config.seed) await seedCatalog({ database, bus, data: loadCatalogData(config.dataFile), logger });
    return {
      services: [defineService(catalogV1.CatalogServiceService, createCatalogHandlers({ database, bus }))],
    };
  },
};
