import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The book categories the catalogue knows, by the names used in `books.json` and in Marketplace URLs. */
export const CATEGORY_NAMES = ["mystery", "science-fiction", "self-help"] as const;

/** One of {@link CATEGORY_NAMES}. */
export type CategoryName = (typeof CATEGORY_NAMES)[number];

/** A book as the catalogue stores it. */
export interface CatalogBook {
  /** Stable identifier, unique across the whole catalogue (a positive int32, as the protos carry it). */
  readonly id: number;
  /** Display title, plain text. */
  readonly title: string;
}

/** Every category with its books. Categories may be empty; every category is present. */
export type Catalog = Readonly<Record<CategoryName, readonly CatalogBook[]>>;

/** Where the catalogue is read from unless `BOOKS_FILE` says otherwise. Resolves the same from `src/` and `dist/`. */
export const DEFAULT_BOOKS_FILE: string = fileURLToPath(new URL("../data/books.json", import.meta.url));

/** Thrown when the catalogue file is missing, unreadable or malformed. The message names the file and the problem. */
export class CatalogError extends Error {
  /** The file that was being loaded. */
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`Invalid book catalogue ${file}: ${problem}`, options);
    this.name = "CatalogError";
    this.file = file;
  }
}

const INT32_MAX = 2 ** 31 - 1;

function isCategoryName(name: string): name is CategoryName {
  return (CATEGORY_NAMES as readonly string[]).includes(name);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks that `data` (parsed JSON) is a valid catalogue: an object keyed by every category name,
 * each an array of `{ "id": positive int32, "title": non-empty string }`, ids unique across the catalogue.
 * Unknown keys are rejected so that a typo cannot silently hide books.
 * @param file - named in the error message.
 * @throws {@link CatalogError} describing the first problem found.
 */
export function parseCatalog(data: unknown, file: string): Catalog {
  if (!isRecord(data)) {
    throw new CatalogError(file, `expected a JSON object keyed by category (${CATEGORY_NAMES.join(", ")})`);
  }
  for (const key of Object.keys(data)) {
    if (!isCategoryName(key)) {
      throw new CatalogError(file, `unknown category "${key}" (expected one of ${CATEGORY_NAMES.join(", ")})`);
    }
  }
  const seen = new Map<number, string>();
  const catalog = {} as Record<CategoryName, readonly CatalogBook[]>;
  for (const category of CATEGORY_NAMES) {
    const entries = data[category];
    if (entries === undefined) throw new CatalogError(file, `missing category "${category}"`);
    if (!Array.isArray(entries)) throw new CatalogError(file, `"${category}" must be an array of books`);
    catalog[category] = entries.map((entry: unknown, index): CatalogBook => {
      const where = `"${category}"[${index}]`;
      if (!isRecord(entry)) throw new CatalogError(file, `${where} must be an object with "id" and "title"`);
      for (const key of Object.keys(entry)) {
        if (key !== "id" && key !== "title") throw new CatalogError(file, `${where} has unknown field "${key}"`);
      }
      const { id, title } = entry;
      if (typeof id !== "number" || !Number.isInteger(id) || id < 1 || id > INT32_MAX) {
        throw new CatalogError(
          file,
          `${where}.id must be an integer between 1 and ${INT32_MAX}, got ${JSON.stringify(id)}`,
        );
      }
      if (typeof title !== "string" || title.trim() === "") {
        throw new CatalogError(file, `${where}.title must be a non-empty string`);
      }
      const previous = seen.get(id);
      if (previous !== undefined) throw new CatalogError(file, `${where}.id ${id} is already used by ${previous}`);
      seen.set(id, where);
      return Object.freeze({ id, title });
    });
    Object.freeze(catalog[category]);
  }
  return Object.freeze(catalog);
}

/**
 * Reads and validates the catalogue file (default {@link DEFAULT_BOOKS_FILE}).
 * Synchronous on purpose: it runs once at startup, before the server listens.
 * @throws {@link CatalogError} when the file cannot be read, is not JSON, or is not a valid catalogue.
 */
export function loadCatalog(file: string = DEFAULT_BOOKS_FILE): Catalog {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(error);
    throw new CatalogError(file, `cannot be read (${reason})`, { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CatalogError(file, `not valid JSON (${(error as Error).message})`, { cause: error });
  }
  return parseCatalog(data, file);
}
