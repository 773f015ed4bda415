import escapeHtmlText from "escape-html";

/**
 * Escapes text for an HTML element's content: `& < > " '` become entities, so user data can
 * never open a tag. (The well-tested `escape-html` package does the work.)
 */
export function escapeHtml(value: string): string {
  return escapeHtmlText(value);
}

/**
 * Escapes a value for a QUOTED attribute (`<input value="${escapeAttr(v)}">`). The same entities
 * as {@link escapeHtml} are enough there because the value cannot leave its quotes; never put a
 * value into an unquoted attribute, an event handler (`onclick`), `style`, or a `<script>`.
 * URLs need {@link safeUrl} first.
 */
export function escapeAttr(value: string): string {
  return escapeHtmlText(value);
}

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);

/**
 * Makes a URL safe for `href`/`src`: relative URLs (`/books?x=1`) and http, https and mailto URLs
 * pass; anything else (`javascript:`, `data:`, `vbscript:`, protocol-relative `//evil.example`,
 * or something unparsable) becomes `#`. The result still needs {@link escapeAttr} for the
 * attribute, and values inside it need `encodeURIComponent` when the URL is built.
 */
export function safeUrl(value: string): string {
  // Browsers ignore tabs and newlines inside URLs and leading control characters or spaces,
  // so "java\tscript:" and " javascript:" must be judged as the browser will read them.
  let start = 0;
  while (start < value.length && value.charCodeAt(start) <= 0x20) start++;
  const cleaned = value.slice(start).replace(/[\t\n\r]/g, "");
  if (cleaned.startsWith("//") || cleaned.startsWith("\\") || cleaned.startsWith("/\\")) return "#";
  if (/^[a-z][a-z0-9+.-]*:/i.test(cleaned)) {
    try {
      return SAFE_SCHEMES.has(new URL(cleaned).protocol) ? cleaned : "#";
    } catch {
      return "#";
    }
  }
  return cleaned;
}
