// Small helpers to read the Marketplace homepage in system tests.

/** The tutorial's mystery titles, as `services/recommendations/data/books.json` has them. */
export const MYSTERY_TITLES = [
  "The Maltese Falcon",
  "Murder on the Orient Express",
  "The Hound of the Baskervilles",
] as const;

/** The text of every `<li>` on the page (the homepage's only list items are the books). */
export function listItems(html: string): string[] {
  return [...html.matchAll(/<li>(.*?)<\/li>/g)].map((match) => match[1] ?? "");
}

/** Fetches `url` and returns status, body and how long the whole answer took. */
export async function getPage(url: string): Promise<{ status: number; body: string; ms: number }> {
  const start = performance.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await response.text();
  return { status: response.status, body, ms: performance.now() - start };
}

/** JSON log records in `lines`, also when prefixed by the launcher (`[name] {...}`). */
export function logRecords(lines: readonly string[]): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  for (const line of lines) {
    const start = line.indexOf("{");
    if (start === -1) continue;
    try {
      const value: unknown = JSON.parse(line.slice(start));
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        records.push(value as Record<string, unknown>);
      }
    } catch {
      // Not a log record.
    }
  }
  return records;
}
