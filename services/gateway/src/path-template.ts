// google.api.http path templates (google/api/http.proto, "Path template syntax"):
//   Template = "/" Segments [ Verb ] ; Segment = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ; Verb = ":" LITERAL ;

/** One `{field.path}` of a template, in order of appearance. */
export interface TemplateVariable {
  /** The request field it sets, e.g. `book.book_id`. */
  readonly fieldPath: string;
  /** `**` inside the variable: the value may contain `/` (kept, each segment percent-decoded). */
  readonly multiSegment: boolean;
}

/** A parsed template: a regular expression over the raw (still percent-encoded) path. */
export interface PathTemplate {
  readonly template: string;
  readonly regex: RegExp;
  readonly variables: readonly TemplateVariable[];
  /** The custom verb (`search` of `/v1/books:search`), or "". */
  readonly verb: string;
  /** The template for OpenAPI: `/v1/books/{book_id}`, `/v1/books:search`. */
  readonly openApiPath: string;
}

function escapeRegex(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function segmentsRegex(segments: string): { regex: string; multi: boolean } {
  let multi = false;
  const parts = segments.split("/").map((segment) => {
    if (segment === "*") return "[^/]+";
    if (segment === "**") {
      multi = true;
      return ".+";
    }
    return escapeRegex(segment);
  });
  return { regex: parts.join("/"), multi };
}

/** Parses `template`; throws on syntax this gateway does not support. */
export function parsePathTemplate(template: string): PathTemplate {
  if (!template.startsWith("/")) throw new Error(`Path template must start with "/": ${template}`);
  // The verb is a ":" after the last "/" and outside any variable.
  let verb = "";
  let rest = template;
  const lastSlash = template.lastIndexOf("/");
  const lastBrace = template.lastIndexOf("}");
  const colon = template.indexOf(":", Math.max(lastSlash, lastBrace));
  if (colon !== -1) {
    verb = template.slice(colon + 1);
    rest = template.slice(0, colon);
  }
  const variables: TemplateVariable[] = [];
  let regex = "^";
  let openApiPath = "";
  let i = 0;
  while (i < rest.length) {
    const open = rest.indexOf("{", i);
    const literal = open === -1 ? rest.slice(i) : rest.slice(i, open);
    regex += segmentsRegex(literal).regex;
    openApiPath += literal;
    if (open === -1) break;
    const close = rest.indexOf("}", open);
    if (close === -1) throw new Error(`Unclosed variable in path template ${template}`);
    const inner = rest.slice(open + 1, close);
    const eq = inner.indexOf("=");
    const fieldPath = eq === -1 ? inner : inner.slice(0, eq);
    const pattern = eq === -1 ? "*" : inner.slice(eq + 1);
    const { regex: inside, multi } = segmentsRegex(pattern);
    // A single-segment variable stops at ":" too, so "/v1/orders/{id}:watch" leaves the verb alone.
    regex += `(${inside === "[^/]+" ? "[^/:]+" : inside})`;
    openApiPath += `{${fieldPath}}`;
    variables.push({ fieldPath, multiSegment: multi });
    i = close + 1;
  }
  if (verb !== "") {
    regex += `:${escapeRegex(verb)}`;
    openApiPath += `:${verb}`;
  }
  return { template, regex: new RegExp(`${regex}$`), variables, verb, openApiPath };
}

/** The variables' values if `path` (raw, without the query) matches, percent-decoded; else undefined. */
export function matchPathTemplate(template: PathTemplate, path: string): string[] | undefined {
  const match = template.regex.exec(path);
  if (match === null) return undefined;
  const values: string[] = [];
  for (let k = 0; k < template.variables.length; k++) {
    const raw = match[k + 1] ?? "";
    try {
      values.push(
        template.variables[k]?.multiSegment
          ? raw.split("/").map(decodeURIComponent).join("/")
          : decodeURIComponent(raw),
      );
    } catch {
      return undefined;
    }
  }
  return values;
}
