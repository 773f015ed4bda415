import fastifyFormbody from "@fastify/formbody";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { CATEGORIES, CATEGORY_SLUGS, type CategorySlug, isCategorySlug } from "./categories.js";
import { escapeAttr, escapeHtml } from "./security/escape.js";

/** The cookie holding the shopper's preferred category. */
export const PREFERENCE_COOKIE = "preferred_category";

/** Options for {@link registerPreferences}. */
export interface PreferencesOptions {
  /** Send the cookie only over HTTPS (`SecurityConfig.secureCookies`). */
  readonly secureCookies: boolean;
}

interface PreferencesBody {
  category?: unknown;
  _csrf?: unknown;
}

/**
 * The shopper's saved category from the {@link PREFERENCE_COOKIE} cookie, when it holds a known
 * slug (cookies are user input too). Needs @fastify/cookie (registered by `registerSecurity`).
 */
export function preferredCategory(request: FastifyRequest): CategorySlug | undefined {
  const value = request.cookies[PREFERENCE_COOKIE];
  return value !== undefined && isCategorySlug(value) ? value : undefined;
}

/**
 * The "save my category" form: POSTs to `/preferences` with the CSRF token in a hidden field.
 * `csrfToken` comes from `reply.generateCsrf()` in the same request that renders the page.
 */
export function renderPreferencesForm(csrfToken: string, selected: CategorySlug | undefined): string {
  const options = CATEGORY_SLUGS.map(
    (slug) =>
      `<option value="${escapeAttr(slug)}"${slug === selected ? " selected" : ""}>${escapeHtml(CATEGORIES[slug].label)}</option>`,
  ).join("");
  return `<form method="post" action="/preferences">
<input type="hidden" name="_csrf" value="${escapeAttr(csrfToken)}">
<label for="preferred-category">My favourite category</label>
<select id="preferred-category" name="category">${options}</select>
<button type="submit">Save as my default category</button>
</form>`;
}

/** Makes a CSRF token for a page that shows {@link renderPreferencesForm}; also sets the secret cookie. */
export function csrfTokenFor(reply: FastifyReply): string {
  return reply.generateCsrf();
}

/**
 * `POST /preferences` (form-encoded `category`, `_csrf`): checks the CSRF token (403 when
 * missing or wrong), checks the category (400 with the choices), stores it in the
 * {@link PREFERENCE_COOKIE} cookie for a year and answers 303 See Other to `/?category=<slug>`
 * (post/redirect/get, so a reload does not resubmit). Requires `registerSecurity` first.
 */
export async function registerPreferences(app: FastifyInstance, options: PreferencesOptions): Promise<void> {
  await app.register(async (scope) => {
    // Form parsing only where a form is posted.
    await scope.register(fastifyFormbody, { bodyLimit: 4096 });
    scope.post<{ Body: PreferencesBody }>(
      "/preferences",
      { preHandler: app.csrfProtection.bind(app) },
      async (request, reply) => {
        const category = request.body?.category;
        if (typeof category !== "string" || !isCategorySlug(category)) {
          return reply
            .code(400)
            .type("text/plain; charset=utf-8")
            .send(`Unknown category. Choose one of: ${CATEGORY_SLUGS.join(", ")}.`);
        }
        reply.setCookie(PREFERENCE_COOKIE, category, {
          path: "/",
          httpOnly: true,
          sameSite: "lax",
          secure: options.secureCookies,
          maxAge: 365 * 24 * 3600,
        });
        return reply.redirect(`/?category=${encodeURIComponent(category)}`, 303);
      },
    );
  });
}
