// The shopper's page in a real browser (headless Chromium from the system, never downloaded):
// the Marketplace as main.ts starts it, in front of a real Recommendations gRPC server.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { recommendationsV1 } from "@obfy/protos";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { createCaptureLogger } from "./fixtures/capture-logger.js";
import { startTestRecommendationsServer, v1Books } from "./fixtures/recommendations-server.js";
import { startMarketplace } from "./start-marketplace.js";

const { BookCategory } = recommendationsV1;
const CHROMIUM = "/usr/bin/chromium";
const RESULTS = new URL("../../../test-results/", import.meta.url);

const TITLES: Record<recommendationsV1.BookCategory, string[]> = {
  [BookCategory.BOOK_CATEGORY_MYSTERY]: [
    "The Maltese Falcon",
    "Murder on the Orient Express",
    "The Hound of the Baskervilles",
  ],
  [BookCategory.BOOK_CATEGORY_SCIENCE_FICTION]: ["Dune", "Ender's Game", "The Left Hand of Darkness"],
  [BookCategory.BOOK_CATEGORY_SELF_HELP]: ["Atomic Habits", "Man's Search for Meaning", "Quiet"],
  [BookCategory.BOOK_CATEGORY_UNSPECIFIED]: [],
  [BookCategory.UNRECOGNIZED]: [],
};

// Violations are recorded by a script the browser injects itself, which the page's CSP does not govern.
const RECORD_VIOLATIONS = `
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
  });
`;

async function violations(page: Page): Promise<string[]> {
  // A string expression: this project is compiled without the DOM types.
  const recorded: unknown = await page.evaluate("window.__cspViolations");
  assert.ok(Array.isArray(recorded), "the violation recorder ran");
  return recorded.map(String);
}

async function books(page: Page): Promise<string[]> {
  return page.locator("main li").allTextContents();
}

/** The shopper's journey, the same with and without JavaScript. */
async function browse(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  const response = await page.goto(`${url}/`);
  assert.equal(response?.status(), 200);
  assert.equal(await page.title(), "Online Books For You");
  assert.equal(await page.locator("h1").textContent(), "Mystery books you may like");
  assert.deepEqual(await books(page), TITLES[BookCategory.BOOK_CATEGORY_MYSTERY]);

  await Promise.all([
    page.waitForURL(`${url}/?category=science-fiction`),
    page.getByRole("link", { name: "Science fiction" }).click(),
  ]);
  assert.equal(await page.locator("h1").textContent(), "Science fiction books you may like");
  assert.deepEqual(await books(page), TITLES[BookCategory.BOOK_CATEGORY_SCIENCE_FICTION]);

  await page.selectOption("#preferred-category", "self-help");
  await Promise.all([
    page.waitForURL(`${url}/?category=self-help`),
    page.getByRole("button", { name: "Save as my default category" }).click(),
  ]);
  assert.equal(await page.locator("h1").textContent(), "Self-help books you may like");
  // The preference persists: the plain homepage now opens on it.
  await page.goto(`${url}/`);
  assert.equal(await page.locator("h1").textContent(), "Self-help books you may like");
  assert.deepEqual(await books(page), TITLES[BookCategory.BOOK_CATEGORY_SELF_HELP]);
  assert.equal(await page.locator("#preferred-category").inputValue(), "self-help");
  return page;
}

describe("the shopper's homepage in Chromium", () => {
  it("shows books, switches category and saves a preference, with and without JavaScript, under the CSP", async (t) => {
    const server = await startTestRecommendationsServer((request) =>
      v1Books(request.category, ...TITLES[request.category]).slice(0, request.maxResults),
    );
    t.after(() => server.shutdown());
    const { logger } = createCaptureLogger();
    const marketplace = await startMarketplace({
      logger,
      env: {
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_HOST: "127.0.0.1",
        METRICS_PORT: "0",
        RECOMMENDATIONS_HOST: "127.0.0.1",
        RECOMMENDATIONS_PORT: String(server.port),
      },
    });
    t.after(() => marketplace.close());

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    t.after(() => browser.close());

    // With JavaScript: no CSP violation, nothing in the console.
    const withJs = await browser.newContext();
    await withJs.addInitScript(RECORD_VIOLATIONS);
    const consoleMessages: string[] = [];
    withJs.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") consoleMessages.push(message.text());
    });
    const page = await browse(withJs, marketplace.url);
    assert.deepEqual(await violations(page), []);
    assert.deepEqual([...consoleMessages], [], "no CSP report or other error in the console");
    await mkdir(RESULTS, { recursive: true });
    await page.screenshot({ path: fileURLToPath(new URL("homepage.png", RESULTS)), fullPage: true });

    // The detector works: the same CSP on a page with inline script and style reports both.
    const csp = (await (await fetch(`${marketplace.url}/`)).headers.get("content-security-policy")) ?? "";
    assert.ok(csp.includes("script-src 'self'"), csp);
    await page.route(`${marketplace.url}/canary`, (route) =>
      route.fulfill({
        status: 200,
        headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": csp },
        body: "<!doctype html><style>body{color:red}</style><script>document.title='ran'</script><p>canary</p>",
      }),
    );
    await page.goto(`${marketplace.url}/canary`);
    assert.notEqual(await page.title(), "ran", "the inline script was blocked");
    const caught = await violations(page);
    assert.ok(
      caught.some((v) => v.startsWith("script-src")) && caught.some((v) => v.startsWith("style-src")),
      String(caught),
    );
    assert.ok(
      consoleMessages.some((m) => m.includes("Content Security Policy")),
      String(consoleMessages),
    );
    await withJs.close();

    // Without JavaScript the same journey works: plain links and a plain form.
    const withoutJs = await browser.newContext({ javaScriptEnabled: false });
    await browse(withoutJs, marketplace.url);
    await withoutJs.close();
  });
});
