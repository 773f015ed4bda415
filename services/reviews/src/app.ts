// The Reviews service: one review per shopper per book, by shoppers who received it; each
// change publishes the book's rating after it (Catalog and Recommendations keep it).
import { defineService } from "@obfy/kit/server";
import type { ServiceDefinition } from "@obfy/kit/service";
import { catalogV1, reviewsV1 } from "@obfy/protos";
import { readReviewsConfig } from "./config.js";
import { reviewsMigrations } from "./db/migrations/index.js";
import type { ReviewsSchema } from "./db/schema.js";
import { subscribeDeliveries } from "./deliveries.js";
import { createReviewsHandlers } from "./reviews-handlers.js";

/** The Reviews' definition: `runService(reviewsService)` runs it. */
export const reviewsService: ServiceDefinition<ReviewsSchema> = {
  name: "reviews",
  port: 50055,
  metricsPort: 9469,
  database: { migrations: [reviewsMigrations] },
  events: true,
  build({ env, database, bus, client }) {
    const config = readReviewsConfig(env);
    subscribeDeliveries(bus);
    const catalog = client(catalogV1.CatalogServiceService, { name: "catalog", defaultAddress: "127.0.0.1:50052" });
    return {
      services: [
        defineService(
          reviewsV1.ReviewsServiceService,
          createReviewsHandlers({
            database,
            bus,
            catalog,
            catalogTimeoutMs: config.catalogTimeoutMs,
            verifiedOnly: config.verifiedOnly,
          }),
        ),
      ],
    };
  },
};
