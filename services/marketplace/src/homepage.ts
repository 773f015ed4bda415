import escapeHtml from "escape-html";
import { CATEGORIES, CATEGORY_SLUGS, type CategorySlug } from "./categories.js";
import { STYLESHEET_PATH } from "./stylesheet.js";

/** A book as the page shows it. */
export interface PageBook {
  readonly id: number;
  readonly title: string;
}

/** Shown instead of the books when Recommendations cannot answer in time. */
export const UNAVAILABLE_NOTICE = "Recommendations are unavailable right now. Please try again in a moment.";

/** Shown when a category has no books. */
export const EMPTY_NOTICE = "There are no books in this category yet.";

// The picker links are the same for every request except for aria-current, so they are built once.
// Slugs are our own constants, but they still go through escaping so the rule "every value is escaped" has no exceptions.
const PICKER_LINKS = new Map(
  CATEGORY_SLUGS.map((slug) => {
    const href = escapeHtml(`/?category=${encodeURIComponent(slug)}`);
    const label = escapeHtml(CATEGORIES[slug].label);
    return [
      slug,
      {
        current: `<a href="${href}" aria-current="page">${label}</a>`,
        other: `<a href="${href}">${label}</a>`,
      },
    ];
  }),
);

function buildPicker(current: CategorySlug | undefined): string {
  // Plain links, so choosing a category works without JavaScript. No <li> here: the only list
  // items on the page are the recommended books.
  const links = CATEGORY_SLUGS.map((slug) => {
    const link = PICKER_LINKS.get(slug);
    return slug === current ? link?.current : link?.other;
  });
  return `<nav aria-label="Book categories">Browse: ${links.join(" ")}</nav>`;
}

// One finished picker per current category (and one with none current, for error pages).
const PICKERS = new Map<CategorySlug | undefined, string>(
  [...CATEGORY_SLUGS, undefined].map((slug) => [slug, buildPicker(slug)]),
);

function picker(current: CategorySlug | undefined): string {
  return PICKERS.get(current) ?? buildPicker(current);
}

function page(body: string, current: CategorySlug | undefined): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Online Books For You</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<header>
<p><a href="/">Online Books For You</a></p>
${picker(current)}
</header>
<main>
${body}
</main>
</body>
</html>
`;
}

/** What the homepage shows for one category: the books, or a notice when none could be fetched. */
export type HomepageContent = { readonly books: readonly PageBook[] } | { readonly unavailable: true };

/**
 * The homepage for `category`: its heading, then the recommended books as a list, or
 * {@link UNAVAILABLE_NOTICE} when Recommendations could not answer, then `formHtml` (already
 * rendered and escaped, e.g. `renderPreferencesForm`), if any. Every title is HTML-escaped.
 */
export function renderHomepage(category: CategorySlug, content: HomepageContent, formHtml = ""): string {
  const heading = `<h1>${escapeHtml(CATEGORIES[category].heading)}</h1>`;
  let section: string;
  if ("unavailable" in content) {
    section = `<p role="status">${escapeHtml(UNAVAILABLE_NOTICE)}</p>`;
  } else if (content.books.length === 0) {
    section = `<p>${escapeHtml(EMPTY_NOTICE)}</p>`;
  } else {
    let items = "";
    for (const book of content.books) items += `<li>${escapeHtml(book.title)}</li>\n`;
    section = `<ul>\n${items}</ul>`;
  }
  return page(`${heading}\n${section}${formHtml === "" ? "" : `\n${formHtml}`}`, category);
}

/** A complete error page with a heading and a plain-text message (escaped here). */
export function renderErrorPage(heading: string, message: string): string {
  return page(`<h1>${escapeHtml(heading)}</h1>\n<p>${escapeHtml(message)}</p>`, undefined);
}
