import { createHash } from "node:crypto";

/**
 * The shop's only stylesheet. Served as a file (CSP `style-src 'self'`: no inline styles) under a
 * content-hashed path with an immutable cache, so browsers fetch it once per release.
 * Colours keep WCAG AA contrast in both schemes (axe checks it in the browser tests).
 */
export const STYLESHEET = `:root {
  color-scheme: light dark;
  --ink: #1d2433; --muted: #4f5868; --paper: #f6f4ef; --card: #ffffff; --accent: #8a3417;
  --line: #d9d3c6; --notice: #fff6dd; --notice-line: #c9a43c; --error: #a0201a; --mark: #ffe58a;
}
@media (prefers-color-scheme: dark) {
  :root { --ink: #ece8df; --muted: #b5afa4; --paper: #15171c; --card: #1e2128; --accent: #f39a72;
    --line: #3a3f4a; --notice: #2d2714; --notice-line: #806a26; --error: #ff8f86; --mark: #6b5300; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--card); padding: 0.5rem; }
header, main, footer { max-width: 60rem; margin: 0 auto; padding: 0 1.25rem; }
header { display: flex; flex-wrap: wrap; gap: 0.75rem 1.5rem; align-items: center; padding-top: 1rem;
  padding-bottom: 1rem; border-bottom: 1px solid var(--line); }
header .brand { margin: 0; font: 700 1.4rem/1.2 Georgia, "Times New Roman", serif; }
header .brand a { color: var(--ink); text-decoration: none; }
header form, .inline { display: inline-flex; gap: 0.4rem; align-items: center; margin: 0; }
header nav { display: flex; gap: 0.75rem; align-items: center; margin-left: auto; flex-wrap: wrap; }
main { padding-top: 1.5rem; padding-bottom: 3rem; }
footer { color: var(--muted); font-size: 0.9rem; padding-bottom: 2rem; }
h1 { font: 700 1.75rem/1.25 Georgia, "Times New Roman", serif; margin: 0 0 1rem; }
h2 { font: 700 1.3rem/1.3 Georgia, "Times New Roman", serif; margin: 2rem 0 0.75rem; }
ul.books { list-style: none; margin: 0 0 1.5rem; padding: 0; display: grid; gap: 0.75rem;
  grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); }
ul.books li, .card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 0.8rem 1rem; }
ul.books li a { font-weight: 600; }
.muted, .authors { color: var(--muted); }
ul.categories { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem; }
ul.categories a { display: inline-block; padding: 0.2rem 0.75rem; border: 1px solid var(--line);
  border-radius: 999px; background: var(--card); color: var(--ink); text-decoration: none; }
ul.categories a[aria-current="page"] { background: var(--accent); border-color: var(--accent); color: #fff; }
.notice, [role="status"].notice { background: var(--notice); border: 1px solid var(--notice-line); border-radius: 6px; padding: 0.75rem 1rem; }
.error-summary, .field-error { color: var(--error); font-weight: 600; }
.book { display: grid; grid-template-columns: minmax(8rem, 14rem) 1fr; gap: 1.5rem; }
.book img { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
.price { font-size: 1.25rem; font-weight: 700; }
mark { background: var(--mark); color: inherit; }
form.stack { display: grid; gap: 0.6rem; max-width: 28rem; }
form.stack label { font-weight: 600; }
input, select, textarea, button { font: inherit; padding: 0.4rem 0.6rem; border-radius: 6px; border: 1px solid var(--muted);
  background: var(--card); color: var(--ink); }
button { background: var(--accent); border-color: var(--accent); color: #fff; cursor: pointer; }
@media (prefers-color-scheme: dark) { button { color: #15171c; } }
table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
th, td { text-align: left; padding: 0.4rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
a:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, button:focus-visible {
  outline: 3px solid var(--accent); outline-offset: 2px; }
@media (max-width: 40rem) { .book { grid-template-columns: 1fr; } }
`;

/** Where the page links the stylesheet: the hash changes with the content, so caching forever is safe. */
export const STYLESHEET_PATH = `/assets/site.${createHash("sha256").update(STYLESHEET).digest("hex").slice(0, 12)}.css`;

/** The ETag of {@link STYLESHEET} (its full hash), for conditional requests. */
export const STYLESHEET_ETAG = `"${createHash("sha256").update(STYLESHEET).digest("base64url")}"`;
