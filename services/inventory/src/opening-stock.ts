// The warehouse's opening stocktake: ISBN → quantity. A book the Catalog creates starts with
// its ISBN's quantity (0 when the stocktake does not list it).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Where the stocktake is read from unless `OPENING_STOCK_FILE` says otherwise (the same from `src/` and `dist/`). */
export const DEFAULT_OPENING_STOCK_FILE: string = fileURLToPath(new URL("../data/opening-stock.json", import.meta.url));

/** Quantities by ISBN. */
export type OpeningStock = ReadonlyMap<string, number>;

/** Reads and checks the stocktake file; the error names the file and the first bad entry. */
export function loadOpeningStock(file: string = DEFAULT_OPENING_STOCK_FILE): OpeningStock {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      `Invalid opening stock ${file}: cannot be read (${code === "ENOENT" ? "file not found" : (code ?? "error")})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`Invalid opening stock ${file}: not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`Invalid opening stock ${file}: expected an object mapping ISBNs to quantities`);
  }
  const stock = new Map<string, number>();
  for (const [isbn, quantity] of Object.entries(value)) {
    if (!/^\d{13}$/.test(isbn)) throw new Error(`Invalid opening stock ${file}: "${isbn}" is not a 13-digit ISBN`);
    if (!Number.isInteger(quantity) || quantity < 0 || quantity > 1_000_000) {
      throw new Error(`Invalid opening stock ${file}: ${isbn} has quantity ${JSON.stringify(quantity)}`);
    }
    stock.set(isbn, quantity);
  }
  return stock;
}
