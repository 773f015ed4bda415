import type { Logger, ServerConfig, ServerInterceptor } from "@obfy/kit/core";
import { type CreateServerOptions, createServer, defineService, type KitServer } from "@obfy/kit/server";
import { legacyRecommendations, recommendationsV1 } from "@obfy/protos";
import type { Catalog } from "./catalog.js";
import { createLegacyRecommendationsHandlers } from "./legacy-recommendations-handlers.js";
import type { RandomSource } from "./recommend.js";
import { createRecommendationsV1Handlers } from "./recommendations-v1-handlers.js";

/** Dependencies of {@link createRecommendationsServer}. */
export interface RecommendationsServerDeps {
  /** The books to recommend from (see `loadCatalog`). */
  readonly catalog: Catalog;
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
 * Builds the Recommendations gRPC server without listening. One server, one port, two APIs:
 * `bookstore.recommendations.v1.RecommendationsService` (current) and the tutorial's unversioned
 * `Recommendations` (legacy), plus the kit's health and reflection services.
 */
export function createRecommendationsServer(deps: RecommendationsServerDeps): KitServer {
  const handlerDeps =
    deps.random === undefined ? { catalog: deps.catalog } : { catalog: deps.catalog, random: deps.random };
  return createServer({
    services: [
      defineService(recommendationsV1.RecommendationsServiceService, createRecommendationsV1Handlers(handlerDeps)),
      defineService(legacyRecommendations.RecommendationsService, createLegacyRecommendationsHandlers(handlerDeps)),
    ],
    ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    ...(deps.config === undefined ? {} : { config: deps.config }),
    ...(deps.outerInterceptors === undefined ? {} : { outerInterceptors: deps.outerInterceptors }),
    ...(deps.interceptors === undefined ? {} : { interceptors: deps.interceptors }),
    ...(deps.credentials === undefined ? {} : { credentials: deps.credentials }),
  });
}
