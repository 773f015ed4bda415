import type { CallContext } from "@obfy/kit/core";
import { InvalidArgument, NotFound } from "@obfy/kit/core";
import { legacyRecommendations } from "@obfy/protos";
import type { CategoryName } from "./catalog.js";
import { sampleDistinct } from "./recommend.js";
import type { RecommendationsHandlerDeps } from "./recommendations-v1-handlers.js";

const { BookCategory } = legacyRecommendations;

/** The stable messages of the errors the legacy API returns (documented in docs/recommendations-api.md). */
export const LEGACY_ERRORS = {
  categoryNotFound: "Category not found",
  negativeMaxResults: (value: number) => `max_results must be >= 0, got ${value}`,
} as const;

const NAME_BY_CATEGORY = new Map<number, CategoryName>([
  [BookCategory.MYSTERY, "mystery"],
  [BookCategory.SCIENCE_FICTION, "science-fiction"],
  [BookCategory.SELF_HELP, "self-help"],
]);

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
 * proper INVALID_ARGUMENT.
 */
export function createLegacyRecommendationsHandlers(deps: RecommendationsHandlerDeps): LegacyRecommendationsHandlers {
  const random = deps.random ?? Math.random;
  return {
    async recommend(request) {
      const name = NAME_BY_CATEGORY.get(request.category);
      if (name === undefined) throw new NotFound(LEGACY_ERRORS.categoryNotFound);
      if (request.maxResults < 0) throw new InvalidArgument(LEGACY_ERRORS.negativeMaxResults(request.maxResults));
      const recommendations = sampleDistinct(deps.catalog[name], request.maxResults, random).map((book) => ({
        id: book.id,
        title: book.title,
      }));
      return { recommendations };
    },
  };
}
