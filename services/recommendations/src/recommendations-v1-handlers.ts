import type { CallContext } from "@obfy/kit/core";
import { InvalidArgument, NotFound, Unimplemented } from "@obfy/kit/core";
import { recommendationsV1 } from "@obfy/protos";
import type { Catalog, CategoryName } from "./catalog.js";
import { type RandomSource, sampleDistinct } from "./recommend.js";

const { BookCategory } = recommendationsV1;
type BookCategory = recommendationsV1.BookCategory;

/** What `max_results = 0` (or unset) means in the v1 API, as documented in the proto. */
export const DEFAULT_MAX_RESULTS = 3;

/** The stable messages of the errors the v1 API returns (documented in docs/recommendations-api.md). */
export const V1_ERRORS = {
  categoryRequired:
    "category is required: set it to one of BOOK_CATEGORY_MYSTERY, BOOK_CATEGORY_SCIENCE_FICTION, BOOK_CATEGORY_SELF_HELP",
  categoryNotFound: "Category not found",
  negativeMaxResults: (value: number) => `max_results must be >= 0, got ${value}`,
} as const;

const NAME_BY_CATEGORY = new Map<number, CategoryName>([
  [BookCategory.BOOK_CATEGORY_MYSTERY, "mystery"],
  [BookCategory.BOOK_CATEGORY_SCIENCE_FICTION, "science-fiction"],
  [BookCategory.BOOK_CATEGORY_SELF_HELP, "self-help"],
]);

/** The v1 enum value of a catalogue category. */
export function v1CategoryOf(name: CategoryName): BookCategory {
  for (const [category, candidate] of NAME_BY_CATEGORY) if (candidate === name) return category;
  // Unreachable while NAME_BY_CATEGORY lists every CategoryName; the type system cannot see that.
  throw new Error(`no v1 category for "${name}"`);
}

/** Dependencies of {@link createRecommendationsV1Handlers}. */
export interface RecommendationsHandlerDeps {
  readonly catalog: Catalog;
  /** Random source for the choice of books; `Math.random` by default. */
  readonly random?: RandomSource;
}

/** Handlers of `bookstore.recommendations.v1.RecommendationsService`. */
export interface RecommendationsV1Handlers {
  recommend(
    request: recommendationsV1.RecommendRequest,
    context?: CallContext,
  ): Promise<recommendationsV1.RecommendResponse>;
  recommendForShopper(
    request: recommendationsV1.RecommendForShopperRequest,
  ): Promise<recommendationsV1.RecommendForShopperResponse>;
  recommendSimilar(
    request: recommendationsV1.RecommendSimilarRequest,
  ): Promise<recommendationsV1.RecommendSimilarResponse>;
}

/**
 * The v1 Recommend semantics (see protos/bookstore/recommendations/v1/recommendations.proto):
 * the category is required, unknown categories are NOT_FOUND, negative max_results is
 * INVALID_ARGUMENT, and max_results 0 means {@link DEFAULT_MAX_RESULTS}. The category is checked
 * before max_results, as in the tutorial.
 */
export function createRecommendationsV1Handlers(deps: RecommendationsHandlerDeps): RecommendationsV1Handlers {
  const random = deps.random ?? Math.random;
  return {
    async recommend(request) {
      if (request.category === BookCategory.BOOK_CATEGORY_UNSPECIFIED) {
        throw new InvalidArgument(V1_ERRORS.categoryRequired);
      }
      const name = NAME_BY_CATEGORY.get(request.category);
      if (name === undefined) throw new NotFound(V1_ERRORS.categoryNotFound);
      if (request.maxResults < 0) throw new InvalidArgument(V1_ERRORS.negativeMaxResults(request.maxResults));
      const count = request.maxResults === 0 ? DEFAULT_MAX_RESULTS : request.maxResults;
      const category = request.category;
      const recommendations = sampleDistinct(deps.catalog[name], count, random).map((book) => ({
        id: book.id,
        title: book.title,
        category,
      }));
      return { recommendations };
    },
    // Answered from the catalogue read model, which the store's Recommendations builds next;
    // until then these say so with UNIMPLEMENTED rather than guess.
    async recommendForShopper() {
      throw new Unimplemented("RecommendForShopper is not served by this version");
    },
    async recommendSimilar() {
      throw new Unimplemented("RecommendSimilar is not served by this version");
    },
  };
}
