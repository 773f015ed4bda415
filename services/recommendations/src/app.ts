// The Recommendations service: book recommendations answered from an in-memory model of the
// catalogue's books, their ratings and the store's orders, which its own read model (database
// `recommendations`, fed by Catalog, Reviews and Orders events) keeps current on every replica.
// Serves bookstore.recommendations.v1 and the tutorial's unversioned API on one port.
import type { Logger, ServerConfig, ServerInterceptor } from "@obfy/kit/core";
import { type CreateServerOptions, createServer, defineService, type KitServer } from "@obfy/kit/server";
import type { ServiceDefinition, ServiceParts } from "@obfy/kit/service";
import { catalogV1, legacyRecommendations, recommendationsV1 } from "@obfy/protos";
import { type Catalog, loadCatalog } from "./catalog.js";
import { createCatalogBackfill } from "./catalog-backfill.js";
import { readRecommendationsConfig } from "./config.js";
import { subscribeReadModel } from "./consumers.js";
import { recommendationsMigrations } from "./db/migrations/index.js";
import type { RecommendationsSchema } from "./db/schema.js";
import { createLegacyRecommendationsHandlers } from "./legacy-recommendations-handlers.js";
import type { RecommendationModel } from "./model.js";
import { createModelStore } from "./model-store.js";
import type { RandomSource } from "./recommend.js";
import { createRecommendationsV1Handlers } from "./recommendations-v1-handlers.js";

/** The tutorial's API has no rules in its proto; anyone may call it, as in the tutorial. */
export const ANONYMOUS_METHODS = ["/Recommendations/Recommend"] as const;

function services(deps: {
  readonly catalog: Catalog;
  readonly model?: () => RecommendationModel;
  readonly random?: RandomSource;
}): ServiceParts["services"] {
  return [
    defineService(recommendationsV1.RecommendationsServiceService, createRecommendationsV1Handlers(deps)),
    defineService(legacyRecommendations.RecommendationsService, createLegacyRecommendationsHandlers(deps)),
  ];
}

/**
 * The Recommendations with its read model: `DATABASE_URL` (its own database) and the event bus
 * are required. Subscribes to the Catalog's, Reviews' and Orders' events, backfills from
 * CatalogService.ListBooks at first start, and answers from the model store's current model.
 */
export const recommendationsService: ServiceDefinition<RecommendationsSchema> = {
  name: "recommendations",
  port: 50051,
  metricsPort: 9464,
  database: { migrations: [recommendationsMigrations] },
  events: true,
  anonymousMethods: ANONYMOUS_METHODS,
  build({ env, database, bus, logger, client }) {
    const config = readRecommendationsConfig(env);
    const catalog = loadCatalog(config.booksFile);
    subscribeReadModel(bus);
    const store = createModelStore({ database, fallback: catalog, logger, pollIntervalMs: config.modelPollIntervalMs });
    const catalogClient = client(catalogV1.CatalogServiceService, {
      name: "catalog",
      defaultAddress: "127.0.0.1:50052",
    });
    return {
      services: services({ catalog, model: store.current }),
      // The store loads its first model before the port opens; the backfill then runs beside the server.
      background: [store, createCatalogBackfill({ database, catalog: catalogClient, logger })],
    };
  },
};

/**
 * The Recommendations without a database (`DATABASE_URL` unset): the tutorial's service, answering
 * from data/books.json alone. What the bench and the stand-alone tests run.
 */
export const standaloneRecommendationsService: ServiceDefinition<RecommendationsSchema> = {
  name: "recommendations",
  port: 50051,
  metricsPort: 9464,
  anonymousMethods: ANONYMOUS_METHODS,
  build({ env }) {
    const config = readRecommendationsConfig(env);
    return { services: services({ catalog: loadCatalog(config.booksFile) }) };
  },
};

/** {@link recommendationsService} when `DATABASE_URL` is set, else {@link standaloneRecommendationsService}. */
export function recommendationsServiceFor(env: NodeJS.ProcessEnv): ServiceDefinition<RecommendationsSchema> {
  return env.DATABASE_URL?.trim() ? recommendationsService : standaloneRecommendationsService;
}

/** Dependencies of {@link createRecommendationsServer}. */
export interface RecommendationsServerDeps {
  /** The books file (see `loadCatalog`): the model unless `model` is given. */
  readonly catalog: Catalog;
  /** The current model, read on every call. */
  readonly model?: () => RecommendationModel;
  /** Random source for the choice of books; `Math.random` by default. */
  readonly random?: RandomSource;
  /** The process logger; the kit's default when omitted. */
  readonly logger?: Logger;
  /** Server settings (`readServerConfig()`); read from the environment when omitted. */
  readonly config?: ServerConfig;
  /** Observability interceptors that see every call first: tracing, then metrics (see docs/observability.md). */
  readonly outerInterceptors?: readonly ServerInterceptor[];
  /** Interceptors closest to the handler, e.g. `createServerSecurity().interceptors` (authorization, bearer tokens). */
  readonly interceptors?: readonly ServerInterceptor[];
  /** Transport credentials, e.g. `createServerSecurity().credentials` (TLS/mTLS); plaintext when omitted. */
  readonly credentials?: CreateServerOptions["credentials"];
}

/**
 * Builds a bare Recommendations gRPC server without listening (both APIs, health and
 * reflection), for tests that need no database or settings: the deployable runs
 * {@link recommendationsService} through the kit's `startService`.
 */
export function createRecommendationsServer(deps: RecommendationsServerDeps): KitServer {
  return createServer({
    services: services({
      catalog: deps.catalog,
      ...(deps.model === undefined ? {} : { model: deps.model }),
      ...(deps.random === undefined ? {} : { random: deps.random }),
    }),
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    ...(deps.config === undefined ? {} : { config: deps.config }),
    ...(deps.outerInterceptors === undefined ? {} : { outerInterceptors: deps.outerInterceptors }),
    ...(deps.interceptors === undefined ? {} : { interceptors: deps.interceptors }),
    ...(deps.credentials === undefined ? {} : { credentials: deps.credentials }),
  });
}
