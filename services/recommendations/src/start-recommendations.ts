import type { Logger } from "@obfy/kit/core";
import type { Metrics } from "@obfy/kit/observability";
import { type RunningService, startService } from "@obfy/kit/service";
import { recommendationsService, recommendationsServiceFor } from "./app.js";
import type { RecommendationsSchema } from "./db/schema.js";

/** The gRPC port of the tutorial, and ours. */
export const DEFAULT_PORT = recommendationsService.port;
/** The metrics (admin) port of Recommendations; the Marketplace uses 9465. */
export const DEFAULT_METRICS_PORT = recommendationsService.metricsPort;
/** The message the one startup line begins with (the kit's `<name> started`). */
export const STARTED_MESSAGE = `${recommendationsService.name} started`;

/** Options for {@link startRecommendations}. */
export interface StartRecommendationsOptions {
  /** The process logger. Give it `mixin: traceLogMixin` so call lines carry trace ids. */
  readonly logger: Logger;
  /** Where every setting is read from (see the README's table); default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** The service's metrics; a new registry when omitted. Share it with `installProcessErrorHandlers`. */
  readonly metrics?: Metrics;
}

/** A started Recommendations service. */
export type RunningRecommendations = RunningService<RecommendationsSchema>;

/**
 * Starts the Recommendations with the kit's `startService`: with its read model when
 * `DATABASE_URL` is set, from data/books.json alone otherwise (see `recommendationsServiceFor`).
 */
export function startRecommendations(options: StartRecommendationsOptions): Promise<RunningRecommendations> {
  const env = options.env ?? process.env;
  return startService(recommendationsServiceFor(env), {
    env,
    logger: options.logger,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  });
}
