// The messages of every error a client of Recommendations can see. They are part of the API:
// clients and the tutorial's tests compare them, so they never change (docs in the README).

/** Errors of `bookstore.recommendations.v1.RecommendationsService`. */
export const V1_ERRORS = {
  categoryRequired:
    "category is required: set it to one of BOOK_CATEGORY_MYSTERY, BOOK_CATEGORY_SCIENCE_FICTION, BOOK_CATEGORY_SELF_HELP",
  categoryNotFound: "Category not found",
  bookNotFound: "Book not found",
  negativeMaxResults: (value: number) => `max_results must be >= 0, got ${value}`,
  maxResultsRange: (value: number) => `max_results must be between 0 and 20, got ${value}`,
} as const;

/** Errors of the tutorial's unversioned `Recommendations` service. */
export const LEGACY_ERRORS = {
  categoryNotFound: "Category not found",
  negativeMaxResults: (value: number) => `max_results must be >= 0, got ${value}`,
} as const;
