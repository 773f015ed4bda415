import { createHash } from "node:crypto";

/**
 * The shop's only stylesheet. Served as a file (CSP `style-src 'self'`: no inline styles) under a
 * content-hashed path with an immutable cache, so browsers fetch it once per release.
 */
export const STYLESHEET = `:root {
  color-scheme: light dark;
  --ink: #1d2433; --muted: #5b6475; --paper: #f6f4ef; --card: #ffffff; --accent: #9b3d1c;
  --line: #e4dfd4; --notice: #fff6dd; --notice-line: #e8c766;
}
@media (prefers-color-scheme: dark) {
  :root { --ink: #ece8df; --muted: #a9a398; --paper: #15171c; --card: #1e2128; --accent: #f08a5d;
    --line: #2d313a; --notice: #2d2714; --notice-line: #806a26; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header, main { max-width: 46rem; margin: 0 auto; padding: 0 1.25rem; }
header { padding-top: 1.5rem; padding-bottom: 0.5rem; border-bottom: 1px solid var(--line); }
header p { margin: 0 0 0.75rem; }
header p a { font: 700 1.5rem/1.2 Georgia, "Times New Roman", serif; color: var(--ink); text-decoration: none; }
nav { color: var(--muted); font-size: 0.95rem; }
nav a { display: inline-block; margin: 0 0.15rem 0.5rem; padding: 0.2rem 0.75rem; border: 1px solid var(--line);
  border-radius: 999px; color: var(--ink); text-decoration: none; background: var(--card); }
nav a:hover, nav a:focus-visible { border-color: var(--accent); }
nav a[aria-current="page"] { background: var(--accent); border-color: var(--accent); color: #fff; }
main { padding-top: 1.5rem; padding-bottom: 3rem; }
h1 { font: 700 1.75rem/1.25 Georgia, "Times New Roman", serif; margin: 0 0 1.25rem; }
ul { list-style: none; margin: 0 0 2rem; padding: 0; display: grid; gap: 0.75rem; }
li { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--accent);
  border-radius: 6px; padding: 0.9rem 1rem; font-weight: 600; }
p[role="status"] { background: var(--notice); border: 1px solid var(--notice-line); border-radius: 6px; padding: 0.9rem 1rem; }
form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; padding-top: 1rem; border-top: 1px solid var(--line);
  color: var(--muted); font-size: 0.95rem; }
select, button { font: inherit; padding: 0.35rem 0.6rem; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: var(--ink); }
button { background: var(--accent); border-color: var(--accent); color: #fff; cursor: pointer; }
a:focus-visible, select:focus-visible, button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
`;

/** Where the page links the stylesheet: the hash changes with the content, so caching forever is safe. */
export const STYLESHEET_PATH = `/assets/site.${createHash("sha256").update(STYLESHEET).digest("hex").slice(0, 12)}.css`;

/** The ETag of {@link STYLESHEET} (its full hash), for conditional requests. */
export const STYLESHEET_ETAG = `"${createHash("sha256").update(STYLESHEET).digest("base64url")}"`;
