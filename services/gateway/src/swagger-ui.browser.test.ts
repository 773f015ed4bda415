// Swagger UI at /docs in the system's Chromium: it loads from the gateway itself (no CDN), shows
// the operations of the generated document, and "Try it out" on GET /v1/books returns books.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium } from "playwright-core";
import { type GatewayHarness, startGatewayHarness } from "./fixtures/gateway-harness.js";

describe("Swagger UI", () => {
  let h: GatewayHarness;
  let browser: Browser;
  before(async () => {
    h = await startGatewayHarness();
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  });
  after(async () => {
    await browser?.close();
    await h?.stop();
  });

  test('loads, and "Try it out" on GET /v1/books returns books', async () => {
    const page = await browser.newPage();
    const origins = new Set<string>();
    page.on("request", (request) => origins.add(new URL(request.url()).origin));
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${h.url}/docs/`);
    const operation = page.locator("#operations-CatalogService-CatalogService_ListBooks");
    await operation.waitFor({ timeout: 30_000 });
    assert.match((await page.locator(".info .title").first().textContent()) ?? "", /Online Books For You API/);
    await operation.locator(".opblock-summary").click();
    await operation.getByRole("button", { name: "Try it out" }).click();
    await operation.locator('input[placeholder="page_size"]').fill("3");
    const answered = page.waitForResponse((r) => r.url().startsWith(`${h.url}/v1/books?`));
    await operation.getByRole("button", { name: "Execute" }).click();
    const response = await answered;
    assert.equal(response.status(), 200);
    assert.match(response.url(), /page_size=3/);
    const body = (await response.json()) as { books: { title: string }[] };
    assert.equal(body.books.length, 3);
    h.check.responseProblems({
      method: "GET",
      url: new URL(response.url()).pathname + new URL(response.url()).search,
      status: 200,
      contentType: response.headers()["content-type"] ?? null,
      responseBody: body,
    });
    const shown = operation.locator(".responses-wrapper .live-responses-table .response-col_description pre");
    await shown.first().waitFor();
    assert.match((await shown.first().textContent()) ?? "", /"title": "Book 1"/);
    assert.deepEqual([...origins], [h.url], "everything comes from the gateway itself");
    assert.deepEqual(errors, []);
  });
});
