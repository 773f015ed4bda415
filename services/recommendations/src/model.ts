// The in-memory model every RPC answers from. It is built whole from a read-model snapshot (or
// from data/books.json while the read model has no book) and never changed afterwards: a reload
// builds a new one and swaps it in, so a call always sees one consistent model and the hot path
// (Recommend) is a map lookup and a sample of precomputed answers.
import { type commonV1, legacyRecommendations, recommendationsV1 } from "@obfy/protos";
import { CATEGORY_NAMES, type Catalog, type CategoryName } from "./catalog.js";
import type { ReadModelSnapshot } from "./db/read-model.js";

/** A book of the model. */
export interface ModelBook {
  readonly bookId: string;
  readonly title: string;
  readonly authors: readonly string[];
  /** The first is the main one. */
  readonly categoryIds: readonly string[];
  readonly price: commonV1.Money | undefined;
  /** Reviews' mean rating; 0 without reviews. */
  readonly ratingAverage: number;
  readonly ratingCount: number;
  /** What "best-rated" sorts by: the mean rating shrunk towards {@link PRIOR_MEAN} (see {@link rankingScore}). */
  readonly score: number;
}

/** A book bought together with another, with how many confirmed orders held both. */
export interface BoughtWith {
  readonly book: ModelBook;
  readonly orders: number;
}

/** Where the model's books came from. */
export type ModelSource = "catalog" | "books-file";

/** The tutorial's three categories: their Catalog ids and their numbers in both APIs. */
export const TUTORIAL_CATEGORIES: readonly {
  readonly categoryId: CategoryName;
  readonly v1: recommendationsV1.BookCategory;
  readonly legacy: legacyRecommendations.BookCategory;
}[] = [
  {
    categoryId: "mystery",
    v1: recommendationsV1.BookCategory.BOOK_CATEGORY_MYSTERY,
    legacy: legacyRecommendations.BookCategory.MYSTERY,
  },
  {
    categoryId: "science-fiction",
    v1: recommendationsV1.BookCategory.BOOK_CATEGORY_SCIENCE_FICTION,
    legacy: legacyRecommendations.BookCategory.SCIENCE_FICTION,
  },
  {
    categoryId: "self-help",
    v1: recommendationsV1.BookCategory.BOOK_CATEGORY_SELF_HELP,
    legacy: legacyRecommendations.BookCategory.SELF_HELP,
  },
];

// "Best-rated" is a Bayesian average: as if every book also had PRIOR_WEIGHT ratings of
// PRIOR_MEAN. One 5-star review (3.67) then ranks below twenty reviews averaging 4.5 (4.36),
// and a book without reviews (3.0) between the well and the badly rated ones.
export const PRIOR_MEAN = 3;
export const PRIOR_WEIGHT = 2;

/** The score "best-rated" sorts by. */
export function rankingScore(average: number, count: number): number {
  return (average * count + PRIOR_MEAN * PRIOR_WEIGHT) / (count + PRIOR_WEIGHT);
}

const INT32_MAX = 2 ** 31 - 1;
const NOTHING: ReadonlySet<string> = new Set();

/** The model. Everything is computed when it is built; every method is a lookup. */
export interface RecommendationModel {
  readonly source: ModelSource;
  /** The read model's revision it was built from (0 for the books file alone). */
  readonly revision: number;
  readonly bookCount: number;
  /** The v1 Recommend answer's books per v1 category (the whole category, to sample from). */
  readonly v1ByCategory: ReadonlyMap<number, readonly recommendationsV1.Book[]>;
  /** The legacy Recommend answer's books per legacy category. */
  readonly legacyByCategory: ReadonlyMap<number, readonly legacyRecommendations.BookRecommendation[]>;
  book(bookId: string): ModelBook | undefined;
  hasCategory(categoryId: string): boolean;
  /** Books of the category ("" for all), best-rated first, in groups of equal score. */
  ranked(categoryId: string): readonly (readonly ModelBook[])[];
  /** Books the user has reviewed. */
  reviewedBy(userId: string): ReadonlySet<string>;
  /** Books the user bought (confirmed, not cancelled orders). */
  boughtBy(userId: string): ReadonlySet<string>;
  /** Books bought together with `bookId`, most often first. */
  boughtWith(bookId: string): readonly BoughtWith[];
}

function groupByScore(books: readonly ModelBook[]): ModelBook[][] {
  const sorted = [...books].sort((a, b) => b.score - a.score);
  const groups: ModelBook[][] = [];
  for (const book of sorted) {
    const last = groups.at(-1);
    if (last !== undefined && last[0]?.score === book.score) last.push(book);
    else groups.push([book]);
  }
  return groups;
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

/** The tutorial categories' books from the file, for a category the catalogue has none of yet. */
function fileBooks(fallback: Catalog, categoryId: CategoryName): { bookId: string; title: string }[] {
  return fallback[categoryId].map((b) => ({ bookId: String(b.id), title: b.title }));
}

/**
 * Builds the model from a snapshot of the read model. `fallback` (data/books.json) answers
 * Recommend for a tutorial category the catalogue has no book in (and every RPC while the
 * snapshot has no book at all, see {@link modelFromBooksFile}).
 */
export function buildModel(
  snapshot: ReadModelSnapshot,
  fallback: Catalog,
  source: ModelSource = "catalog",
): RecommendationModel {
  const ratings = new Map(snapshot.ratings.map((r) => [r.bookId, r]));
  const books = new Map<string, ModelBook>();
  const byCategory = new Map<string, ModelBook[]>();
  const categories = new Set(snapshot.categories);
  for (const record of snapshot.books) {
    const rating = ratings.get(record.bookId);
    const average = rating?.average ?? 0;
    const count = rating?.count ?? 0;
    const book: ModelBook = Object.freeze({
      bookId: record.bookId,
      title: record.title,
      authors: Object.freeze([...record.authors]),
      categoryIds: Object.freeze([...record.categoryIds]),
      price:
        record.priceCurrency === ""
          ? undefined
          : { currencyCode: record.priceCurrency, amountMinor: record.priceMinor },
      ratingAverage: average,
      ratingCount: count,
      score: rankingScore(average, count),
    });
    books.set(book.bookId, book);
    for (const categoryId of new Set(book.categoryIds)) {
      categories.add(categoryId);
      let list = byCategory.get(categoryId);
      if (list === undefined) {
        list = [];
        byCategory.set(categoryId, list);
      }
      list.push(book);
    }
  }

  const v1ByCategory = new Map<number, readonly recommendationsV1.Book[]>();
  const legacyByCategory = new Map<number, readonly legacyRecommendations.BookRecommendation[]>();
  for (const tutorial of TUTORIAL_CATEGORIES) {
    // The v1 and legacy APIs carry ids as int32: the Catalog's ids are decimal numbers.
    let members = (byCategory.get(tutorial.categoryId) ?? [])
      .filter((b) => /^[1-9][0-9]{0,9}$/.test(b.bookId) && Number(b.bookId) <= INT32_MAX)
      .map((b) => ({ bookId: b.bookId, title: b.title }));
    if (members.length === 0) members = fileBooks(fallback, tutorial.categoryId);
    v1ByCategory.set(
      tutorial.v1,
      Object.freeze(members.map((b) => Object.freeze({ id: Number(b.bookId), title: b.title, category: tutorial.v1 }))),
    );
    legacyByCategory.set(
      tutorial.legacy,
      Object.freeze(members.map((b) => Object.freeze({ id: Number(b.bookId), title: b.title }))),
    );
  }

  const rankedAll = groupByScore([...books.values()]);
  const rankedByCategory = new Map([...byCategory].map(([id, list]) => [id, groupByScore(list)]));

  const reviewed = new Map<string, Set<string>>();
  for (const r of snapshot.reviews) addTo(reviewed, r.userId, r.bookId);
  const bought = new Map<string, Set<string>>();
  for (const p of snapshot.purchases) addTo(bought, p.userId, p.bookId);

  const together = new Map<string, BoughtWith[]>();
  for (const pair of snapshot.pairs) {
    const other = books.get(pair.otherBookId);
    if (other === undefined || !books.has(pair.bookId)) continue;
    let list = together.get(pair.bookId);
    if (list === undefined) {
      list = [];
      together.set(pair.bookId, list);
    }
    list.push({ book: other, orders: pair.orders });
  }
  // Most often first; then the better rated; then by id, so the order is stable.
  for (const list of together.values()) {
    list.sort((a, b) => b.orders - a.orders || b.book.score - a.book.score || (a.book.bookId < b.book.bookId ? -1 : 1));
  }

  return {
    source,
    revision: snapshot.revision,
    bookCount: books.size,
    v1ByCategory,
    legacyByCategory,
    book: (bookId) => books.get(bookId),
    hasCategory: (categoryId) => categories.has(categoryId),
    ranked: (categoryId) => (categoryId === "" ? rankedAll : (rankedByCategory.get(categoryId) ?? [])),
    reviewedBy: (userId) => reviewed.get(userId) ?? NOTHING,
    boughtBy: (userId) => bought.get(userId) ?? NOTHING,
    boughtWith: (bookId) => together.get(bookId) ?? [],
  };
}

/**
 * The model of data/books.json alone: the tutorial's nine books (ids "1" to "9", as the
 * Catalog keeps them), in their three categories, without authors, prices or ratings. What the
 * service answers from until the read model has a book.
 */
export function modelFromBooksFile(fallback: Catalog, revision = 0): RecommendationModel {
  const books = CATEGORY_NAMES.flatMap((categoryId) =>
    fallback[categoryId].map((b) => ({
      bookId: String(b.id),
      isbn: "",
      title: b.title,
      authors: [],
      categoryIds: [categoryId],
      publicationYear: 0,
      priceCurrency: "",
      priceMinor: 0,
      version: 0,
    })),
  );
  return buildModel(
    { revision, books, categories: [...CATEGORY_NAMES], ratings: [], reviews: [], purchases: [], pairs: [] },
    fallback,
    "books-file",
  );
}
