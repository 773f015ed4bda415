import type { CallContext } from "@obfy/kit/core";
import { InvalidArgument, NotFound } from "@obfy/kit/core";
import { principalOf } from "@obfy/kit/security";
import { recommendationsV1 } from "@obfy/protos";
import type { Catalog } from "./catalog.js";
import { V1_ERRORS } from "./errors.js";
import { type ModelBook, modelFromBooksFile, type RecommendationModel } from "./model.js";
import { type RandomSource, sampleDistinct } from "./recommend.js";

export { V1_ERRORS };

const { BookCategory, Reason } = recommendationsV1;

/** What `max_results = 0` (or unset) means in Recommend and RecommendForShopper, as documented in the proto. */
export const DEFAULT_MAX_RESULTS = 3;
/** What `max_results = 0` means in RecommendSimilar. */
export const DEFAULT_SIMILAR_RESULTS = 4;
/** The largest max_results of RecommendForShopper and RecommendSimilar. */
export const MAX_LIST_RESULTS = 20;

/** Dependencies of {@link createRecommendationsV1Handlers}. */
export interface RecommendationsHandlerDeps {
  /** data/books.json: the model while no other is given. */
  readonly catalog: Catalog;
  /** The current model (the model store's `current`); the books file's model when omitted. */
  readonly model?: () => RecommendationModel;
  /** Random source for the choice of books; `Math.random` by default. */
  readonly random?: RandomSource;
}

/** The model the handlers read on each call. */
export function modelSourceOf(deps: RecommendationsHandlerDeps): () => RecommendationModel {
  if (deps.model !== undefined) return deps.model;
  const fixed = modelFromBooksFile(deps.catalog);
  return () => fixed;
}

/** Handlers of `bookstore.recommendations.v1.RecommendationsService`. */
export interface RecommendationsV1Handlers {
  recommend(
    request: recommendationsV1.RecommendRequest,
    context?: CallContext,
  ): Promise<recommendationsV1.RecommendResponse>;
  recommendForShopper(
    request: recommendationsV1.RecommendForShopperRequest,
    context?: CallContext,
  ): Promise<recommendationsV1.RecommendForShopperResponse>;
  recommendSimilar(
    request: recommendationsV1.RecommendSimilarRequest,
    context?: CallContext,
  ): Promise<recommendationsV1.RecommendSimilarResponse>;
}

function listSize(maxResults: number, fallback: number): number {
  if (maxResults < 0 || maxResults > MAX_LIST_RESULTS) throw new InvalidArgument(V1_ERRORS.maxResultsRange(maxResults));
  return maxResults === 0 ? fallback : maxResults;
}

function recommended(book: ModelBook, reason: recommendationsV1.Reason): recommendationsV1.RecommendedBook {
  return {
    bookId: book.bookId,
    title: book.title,
    authors: [...book.authors],
    price: book.price,
    ratingAverage: book.ratingAverage,
    ratingCount: book.ratingCount,
    reason,
  };
}

/**
 * Walks tie groups best first and takes up to `count` books that `accept` lets through and are
 * not in `taken` (which it extends); within the last group it uses, the choice is random.
 */
function takeRanked(
  groups: readonly (readonly ModelBook[])[],
  count: number,
  accept: (book: ModelBook) => boolean,
  taken: Set<string>,
  random: RandomSource,
): ModelBook[] {
  const picked: ModelBook[] = [];
  for (const group of groups) {
    if (picked.length >= count) break;
    const open = group.filter((b) => !taken.has(b.bookId) && accept(b));
    for (const book of sampleDistinct(open, count - picked.length, random)) {
      taken.add(book.bookId);
      picked.push(book);
    }
  }
  return picked;
}

/**
 * The v1 RPCs (see protos/bookstore/recommendations/v1/recommendations.proto), every one answered
 * from the current in-memory model, never from a query:
 * - Recommend: the category is required, unknown categories are NOT_FOUND, negative max_results
 *   is INVALID_ARGUMENT, 0 means {@link DEFAULT_MAX_RESULTS}; checked in that order, as in the
 *   tutorial. The books are sampled from the model's precomputed answers for the category.
 * - RecommendForShopper: best-rated books the caller (the token's subject, when sent) has neither
 *   reviewed nor bought; without a category, the categories of what the caller reviewed or bought
 *   come first, then any.
 * - RecommendSimilar: bought together in confirmed orders, then best-rated of its main category.
 */
export function createRecommendationsV1Handlers(deps: RecommendationsHandlerDeps): RecommendationsV1Handlers {
  const random = deps.random ?? Math.random;
  const model = modelSourceOf(deps);
  return {
    async recommend(request) {
      if (request.category === BookCategory.BOOK_CATEGORY_UNSPECIFIED) {
        throw new InvalidArgument(V1_ERRORS.categoryRequired);
      }
      const books = model().v1ByCategory.get(request.category);
      if (books === undefined) throw new NotFound(V1_ERRORS.categoryNotFound);
      if (request.maxResults < 0) throw new InvalidArgument(V1_ERRORS.negativeMaxResults(request.maxResults));
      const count = request.maxResults === 0 ? DEFAULT_MAX_RESULTS : request.maxResults;
      return { recommendations: sampleDistinct(books, count, random) };
    },

    async recommendForShopper(request, context) {
      const current = model();
      const categoryId = request.categoryId;
      if (categoryId !== "" && !current.hasCategory(categoryId)) throw new NotFound(V1_ERRORS.categoryNotFound);
      const count = listSize(request.maxResults, DEFAULT_MAX_RESULTS);
      const user = context === undefined ? undefined : principalOf(context)?.subject;
      const reviewed = user === undefined ? new Set<string>() : current.reviewedBy(user);
      const bought = user === undefined ? new Set<string>() : current.boughtBy(user);
      const taken = new Set<string>([...reviewed, ...bought]);
      const ranked = current.ranked(categoryId);
      const picked: ModelBook[] = [];
      if (categoryId === "" && taken.size > 0) {
        // The shopper's own categories: of the books they reviewed or bought.
        const theirs = new Set<string>();
        for (const bookId of taken) for (const id of current.book(bookId)?.categoryIds ?? []) theirs.add(id);
        picked.push(...takeRanked(ranked, count, (b) => b.categoryIds.some((id) => theirs.has(id)), taken, random));
      }
      picked.push(...takeRanked(ranked, count - picked.length, () => true, taken, random));
      return { books: picked.map((b) => recommended(b, Reason.REASON_BEST_RATED)) };
    },

    async recommendSimilar(request) {
      const current = model();
      const book = current.book(request.bookId);
      if (book === undefined) throw new NotFound(V1_ERRORS.bookNotFound);
      const count = listSize(request.maxResults, DEFAULT_SIMILAR_RESULTS);
      const books: recommendationsV1.RecommendedBook[] = [];
      const taken = new Set<string>([book.bookId]);
      for (const { book: other } of current.boughtWith(book.bookId)) {
        if (books.length >= count) break;
        taken.add(other.bookId);
        books.push(recommended(other, Reason.REASON_BOUGHT_TOGETHER));
      }
      const main = book.categoryIds[0];
      if (main !== undefined && books.length < count) {
        for (const other of takeRanked(current.ranked(main), count - books.length, () => true, taken, random)) {
          books.push(recommended(other, Reason.REASON_SAME_CATEGORY));
        }
      }
      return { books };
    },
  };
}
