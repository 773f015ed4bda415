// Covers are drawn, not fetched: an SVG from the book's title and authors, in colours picked
// from its id, so no image crosses the network and no licence applies. Every text is XML-escaped,
// so a title such as `</text><script>` is shown as written and never becomes markup.
import { createHash } from "node:crypto";

const WIDTH = 400;
const HEIGHT = 600;
const TITLE_LINE = 16;
const TITLE_LINES = 6;
const AUTHOR_LINE = 28;

/** Text for XML character data and attribute values. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Breaks `text` into lines of about `width` characters (long words are cut), at most `max`. */
export function wrap(text: string, width: number, max: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    let rest = [...word];
    while (rest.length > width) {
      if (line !== "") lines.push(line);
      lines.push(rest.slice(0, width).join(""));
      line = "";
      rest = rest.slice(width);
    }
    const piece = rest.join("");
    if (piece === "") continue;
    if (line === "") line = piece;
    else if ([...line].length + 1 + rest.length <= width) line = `${line} ${piece}`;
    else {
      lines.push(line);
      line = piece;
    }
  }
  if (line !== "") lines.push(line);
  if (lines.length <= max) return lines;
  const kept = lines.slice(0, max);
  const last = [...(kept[max - 1] ?? "")];
  kept[max - 1] = `${last.slice(0, Math.max(0, width - 1)).join("")}…`;
  return kept;
}

/** The cover of a book, as SVG text. */
export function renderCover(book: {
  readonly id: string;
  readonly title: string;
  readonly authors: readonly string[];
}): string {
  const hash = createHash("sha256").update(book.id).digest();
  const hue = ((hash[0] ?? 0) * 360) / 256;
  const background = `hsl(${hue.toFixed(0)} 45% 28%)`;
  const accent = `hsl(${((hue + 40) % 360).toFixed(0)} 70% 70%)`;
  const titleLines = wrap(book.title, TITLE_LINE, TITLE_LINES);
  const authors = wrap(book.authors.join(", "), AUTHOR_LINE, 2);
  const titleTop = 170 - (titleLines.length - 1) * 10;
  const title = titleLines
    .map((line, i) => `<tspan x="200" y="${titleTop + i * 46}">${escapeXml(line)}</tspan>`)
    .join("");
  const byline = authors.map((line, i) => `<tspan x="200" y="${520 + i * 30}">${escapeXml(line)}</tspan>`).join("");
  const label = escapeXml(`${book.title} by ${book.authors.join(", ")}`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${label}">`,
    `<title>${label}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="${background}"/>`,
    `<rect x="24" y="24" width="${WIDTH - 48}" height="${HEIGHT - 48}" fill="none" stroke="${accent}" stroke-width="3"/>`,
    `<line x1="100" y1="470" x2="300" y2="470" stroke="${accent}" stroke-width="2"/>`,
    `<text fill="#ffffff" font-family="Georgia, serif" font-size="38" font-weight="bold" text-anchor="middle">${title}</text>`,
    `<text fill="${accent}" font-family="Helvetica, Arial, sans-serif" font-size="22" text-anchor="middle">${byline}</text>`,
    "</svg>",
  ].join("");
}
