import { envInt, envString } from "@obfy/kit/core";
import { DEFAULT_BOOKS_FILE } from "./catalog.js";

/** The Recommendations' own settings (the kit reads the rest: ports, database, event bus, TLS, ...). */
export interface RecommendationsConfig {
  /** `BOOKS_FILE`: the tutorial's books, answered from while the read model has no book. */
  readonly booksFile: string;
  /** `MODEL_POLL_INTERVAL_MS`: how often each replica checks the model revision, in case a notification was lost. */
  readonly modelPollIntervalMs: number;
}

/** Reads {@link RecommendationsConfig}; a bad value throws naming the variable. */
export function readRecommendationsConfig(env: NodeJS.ProcessEnv): RecommendationsConfig {
  return {
    booksFile: envString(env, "BOOKS_FILE", DEFAULT_BOOKS_FILE),
    modelPollIntervalMs: envInt(env, "MODEL_POLL_INTERVAL_MS", 5000, { min: 50, max: 600_000 }),
  };
}
