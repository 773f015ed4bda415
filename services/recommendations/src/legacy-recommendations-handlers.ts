import type { CallContext } from "@obfy/kit/core";
import { InvalidArgument, NotFound } from "@obfy/kit/core";
import type { legacyRecommendations } from "@obfy/protos";
import { LEGACY_ERRORS } from "./errors.js";
import { sampleDistinct } from "./recommend.js";
import { modelSourceOf, type RecommendationsHandlerDeps } from "./recommendations-v1-handlers.js";

export { LEGACY_ERRORS };

/** Handlers of the tutorial's unversioned `Recommendations` service. */
export interface LegacyRecommendationsHandlers {
  recommend(
    request: legacyRecommendations.RecommendationRequest,
    context?: CallContext,
  ): Promise<legacyRecommendations.RecommendationResponse>;
}

/**
 * The tutorial's Recommend, kept for clients generated from its recommendations.proto:
 * MYSTERY = 0 is a real category, unknown categories are NOT_FOUND "Category not found", and
 * max_results is an upper bound where 0 means zero books (the tutorial's `min(max_results, n)`).
 * A negative max_results made the tutorial's `random.sample` raise (UNKNOWN); here it is a
 * proper INVALID_ARGUMENT. The books are the catalogue's, in the Catalog category of the same
 * name (see model.ts), each answer sampled from precomputed entries of the current model.
 */
export function createLegacyRecommendationsHandlers(deps: RecommendationsHandlerDeps): LegacyRecommendationsHandlers {
  const random = deps.random ?? Math.random;
  const model = modelSourceOf(deps);
  return {
    async recommend(request) {
      const books = model().legacyByCategory.get(request.category);
      if (books === undefined) throw new NotFound(LEGACY_ERRORS.categoryNotFound);
      if (request.maxResults < 0) throw new InvalidArgument(LEGACY_ERRORS.negativeMaxResults(request.maxResults));
      return { recommendations: sampleDistinct(books, request.maxResults, random) };
    },
  };
}
