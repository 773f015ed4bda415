/** The book categories the Marketplace offers, keyed by the slug used in `?category=`. */
export const CATEGORIES = {
  mystery: { label: "Mystery", heading: "Mystery books you may like" },
  "science-fiction": { label: "Science fiction", heading: "Science fiction books you may like" },
  "self-help": { label: "Self-help", heading: "Self-help books you may like" },
} as const satisfies Record<string, { label: string; heading: string }>;

/** A category slug, e.g. `science-fiction`. */
export type CategorySlug = keyof typeof CATEGORIES;

/** The category shown when the URL names none (the tutorial's homepage shows mystery books). */
export const DEFAULT_CATEGORY: CategorySlug = "mystery";

/** Every slug, in the order the picker shows them. */
export const CATEGORY_SLUGS = Object.keys(CATEGORIES) as CategorySlug[];

/** True when `value` is a known category slug. */
export function isCategorySlug(value: string): value is CategorySlug {
  return Object.hasOwn(CATEGORIES, value);
}
