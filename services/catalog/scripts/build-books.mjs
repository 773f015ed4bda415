#!/usr/bin/env node
// Writes data/books.json (what the seed step loads) from data/books.txt (what people edit):
//   node scripts/build-books.mjs        (npm run data -w @obfy/catalog)
// Book n (1-based, in file order) gets the store's synthetic ISBN "978" + n in 9 digits + the
// ISBN-13 check digit, the series the Inventory's opening stocktake counts. Prices are not public
// facts: each is derived from the page count (7.99 USD plus 1.00 per 60 pages, at most 39.99).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The store's shelves, in display order. */
const CATEGORIES = [
  ["mystery", "Mystery", "Detectives, puzzles and crimes to solve."],
  ["thriller", "Thriller", "Spies, conspiracies and races against the clock."],
  ["science-fiction", "Science fiction", "Futures, other worlds and the science that might take us there."],
  ["fantasy", "Fantasy", "Magic, myth and invented worlds."],
  ["horror", "Horror", "Ghosts, monsters and the fears that keep readers up at night."],
  ["romance", "Romance", "Love stories, from Regency drawing rooms to the present day."],
  ["historical-fiction", "Historical fiction", "Novels set in the past, from ancient Rome to the twentieth century."],
  ["classics", "Classics", "Books that have lasted: the canon of world literature."],
  ["biography", "Biography and memoir", "Real lives, told by others or in their own words."],
  ["history", "History", "Wars, empires and the people who lived through them."],
  ["science", "Popular science", "Science explained for curious readers."],
  ["self-help", "Self-help", "Habits, happiness and getting on with other people."],
  ["business", "Business and economics", "Markets, companies, money and how people decide."],
  ["philosophy", "Philosophy", "The big questions, from Machiavelli to Rawls."],
].map(([categoryId, displayName, description]) => ({ categoryId, displayName, description }));

/** ISBN-13 check digit of the first 12 digits. */
export function isbnCheckDigit(first12) {
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(first12[i]) * (i % 2 === 0 ? 1 : 3);
  return String((10 - (sum % 10)) % 10);
}

/** The synthetic ISBN of book n. */
export function syntheticIsbn(n) {
  const first12 = `978${String(n).padStart(9, "0")}`;
  return first12 + isbnCheckDigit(first12);
}

function priceOf(pages) {
  return Math.min(3999, 799 + 100 * Math.floor(pages / 60));
}

const dataDir = fileURLToPath(new URL("../data/", import.meta.url));
const known = new Set(CATEGORIES.map((c) => c.categoryId));
const lines = readFileSync(`${dataDir}books.txt`, "utf8")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));
const books = lines.map((line, i) => {
  const fields = line.split("|");
  if (fields.length !== 6) throw new Error(`books.txt, book ${i + 1}: expected 6 fields, got ${fields.length}`);
  const [categories, title, authors, year, pages, description] = fields;
  const categoryIds = categories.split(",");
  for (const id of categoryIds) if (!known.has(id)) throw new Error(`book ${i + 1}: unknown category ${id}`);
  return {
    isbn: syntheticIsbn(i + 1),
    title,
    authors: authors.split(";"),
    description,
    categoryIds,
    publicationYear: Number(year),
    pageCount: Number(pages),
    priceMinor: priceOf(Number(pages)),
  };
});
const out = { categories: CATEGORIES, books };
writeFileSync(`${dataDir}books.json`, `${JSON.stringify(out, null, 1)}\n`);
process.stdout.write(`data/books.json: ${books.length} books in ${CATEGORIES.length} categories\n`);
