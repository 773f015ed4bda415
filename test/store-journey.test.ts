// The shopper's journeys in a real browser (headless Chromium) against the real store services
// started in this process (services/marketplace/src/fixtures/store-harness.ts: Accounts, Catalog
// with its 426 books, Inventory, Payments, Reviews, Recommendations, Cart, Orders, Notifications),
// each on its own PostgreSQL database with the pg-boss bus: browse and search, sign up / out / in, review (the average arrives by the event), buy with
// the success and the decline card and watch the order page turn final without a reload. axe-core
// runs on every page.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { assertAccessible, launchChromium, submitTo, textOf } from "../services/marketplace/src/fixtures/browser.js";
import { type StoreHarness, startStoreHarness } from "../services/marketplace/src/fixtures/store-harness.js";

const PASSWORD = "a long enough password 42";
/** "The Hound of the Baskervilles" (the tutorial's book 3) starts with 3 copies: "Only 3 left". */
const HOUND = "3";

function price(bookId: string): string {
  const book = store.books.find((b) => b.bookId === bookId);
  assert.ok(book, `book ${bookId} is in the catalogue`);
  return `$${(book.priceMinor / 100).toFixed(2)}`;
}

let store: StoreHarness;
let browser: Browser;

before(async () => {
  store = await startStoreHarness({ stock: (book) => (book.bookId === HOUND ? 3 : 50) });
  browser = await launchChromium();
});
after(async () => {
  // Bounded: a browser that crashed under load must not hold the run.
  await Promise.race([browser?.close(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  await store?.stop();
});

/** Counts full page loads, so a test can prove that something changed without one. */
function countLoads(page: Page): () => number {
  let loads = 0;
  page.on("load", () => {
    loads++;
  });
  return () => loads;
}

async function signUp(page: Page, email: string): Promise<void> {
  await page.goto(`${store.url}/account/sign-up`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await submitTo(page, "Create account", `${store.url}/account`);
}

describe("browsing, accounts and reviews", () => {
  it("search → book page → sign-up → sign-out → sign-in → a review that appears with the average updated", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });

    const home = await page.goto(`${store.url}/`);
    assert.equal(home?.status(), 200);
    assert.equal(await page.title(), "Online Books For You");
    for (const heading of ["Featured books", "Categories", "Recommended for you"]) {
      assert.ok(await page.getByRole("heading", { name: heading }).isVisible(), heading);
    }
    assert.ok((await page.locator("#featured-heading + ul li").count()) > 0, "featured books are listed");
    await assertAccessible(page, "home");

    await page.getByRole("link", { name: "Mystery" }).click();
    await page.waitForURL(`${store.url}/categories/mystery`);
    assert.equal(await textOf(page, "h1"), "Mystery");
    assert.equal(await page.locator("ul.books li").count(), 12, "a page of the category's books");
    await page.getByRole("link", { name: "Next page" }).click();
    await page.waitForURL(/\/categories\/mystery\?page=2&page_token=/);
    assert.ok((await page.locator("ul.books li").count()) > 0, "the second page has books too");
    assert.match(await textOf(page, "p.muted"), /books, page 2$/);
    await assertAccessible(page, "category");

    await page.getByLabel("Search books").fill("hound");
    await submitTo(page, "Search", /\/search\?q=hound/);
    assert.match(await textOf(page, "h1"), /Results for “hound”/);
    const hit = page.locator("ol.results li a", { hasText: "Baskervilles" });
    assert.equal(
      ((await hit.locator("mark").first().textContent()) ?? "").toLowerCase(),
      "hound",
      "the matched word is highlighted",
    );
    await assertAccessible(page, "search");

    await Promise.all([
      page.waitForURL(`${store.url}/books/${HOUND}`),
      page
        .getByRole("link", { name: /Hound of the Baskervilles/ })
        .first()
        .click(),
    ]);
    assert.equal(await textOf(page, "h1"), "The Hound of the Baskervilles");
    assert.equal(await textOf(page, ".authors"), "by Arthur Conan Doyle");
    assert.equal(await textOf(page, ".price"), price(HOUND));
    assert.equal(await textOf(page, "#stock"), "Only 3 left");
    assert.equal(await textOf(page, "#rating"), "No reviews yet");
    assert.ok(await page.getByRole("heading", { name: "You may also like" }).isVisible());
    assert.ok(await page.getByRole("button", { name: "Add to cart" }).isVisible());
    const cover = await page.request.get(`${store.url}/books/${HOUND}/cover.svg`);
    assert.equal(cover.headers()["content-type"], "image/svg+xml");
    await assertAccessible(page, "book page");

    // Sign-up, with field-level errors first.
    await page.getByRole("link", { name: "Create account" }).click();
    await page.getByRole("button", { name: "Create account" }).click();
    assert.equal(await textOf(page, "#email-error"), "Enter your email address.");
    assert.equal(await textOf(page, "#password-error"), "Enter your password.");
    await assertAccessible(page, "sign-up with errors");
    const email = `reader-${Date.now()}@example.com`;
    await signUp(page, email);
    assert.equal(await textOf(page, "#account-email"), email);
    await assertAccessible(page, "account");
    const cookies = await context.cookies();
    assert.equal(cookies.find((c) => c.name === "obfy_session")?.httpOnly, true, "the session cookie is httpOnly");

    await submitTo(page, "Sign out", `${store.url}/`);
    assert.ok(await page.getByRole("link", { name: "Sign in" }).isVisible());
    assert.equal(
      await page.goto(`${store.url}/account`).then(() => page.url()),
      `${store.url}/account/sign-in?return_to=%2Faccount`,
    );

    // A wrong password and an unknown email read the same.
    const refused: string[] = [];
    for (const [tryEmail, tryPassword] of [
      [email, "not the password at all"],
      [`nobody-${Date.now()}@example.com`, PASSWORD],
    ] as const) {
      await page.goto(`${store.url}/account/sign-in`);
      await page.getByLabel("Email").fill(tryEmail);
      await page.getByLabel("Password").fill(tryPassword);
      await page.getByRole("button", { name: "Sign in" }).click();
      refused.push(await textOf(page, ".error-summary"));
    }
    assert.deepEqual(refused, ["Email or password is incorrect", "Email or password is incorrect"]);
    await assertAccessible(page, "sign-in refused");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await submitTo(page, "Sign in", `${store.url}/account`);

    // A review, typed with markup that must stay text.
    await page.goto(`${store.url}/books/${HOUND}`);
    const text = `<script>document.title="owned"</script><b>Gripping</b> from the first page.`;
    await page.getByLabel("Rating").selectOption("4");
    await page.getByLabel("Your review").fill(text);
    await submitTo(page, "Post review", `${store.url}/books/${HOUND}#reviews`);
    assert.equal(await textOf(page, ".review-text"), text, "the review shows exactly as typed");
    assert.equal(await page.locator(".review-text b").count(), 0, "and no markup from it");
    assert.notEqual(await page.title(), "owned");
    // The average comes from the Catalog, kept by the ReviewPosted event: reload until it arrives.
    const deadline = Date.now() + 20_000;
    let rating = await textOf(page, "#rating");
    while (rating !== "4.0 out of 5 (1 review)" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 300));
      await page.reload();
      rating = await textOf(page, "#rating");
    }
    assert.equal(rating, "4.0 out of 5 (1 review)");
    await assertAccessible(page, "book page with a review");

    // Bad input gets clear messages, never a stack trace.
    const long = await page.goto(`${store.url}/search?q=${"a".repeat(201)}`);
    assert.equal(long?.status(), 400);
    assert.equal(await textOf(page, ".error-summary"), "Your search is too long: use at most 200 characters.");
    await page.goto(`${store.url}/books/${HOUND}`);
    await page.getByLabel("Your review").fill("x".repeat(2001));
    await page.getByRole("button", { name: "Post review" }).click();
    assert.equal(await textOf(page, "#review-text-error"), "Your review is too long: 2001 characters, at most 2000.");
    await assertAccessible(page, "review refused");
    const missing = await page.goto(`${store.url}/books/999999`);
    assert.equal(missing?.status(), 404);
    assert.equal(await textOf(page, "h1"), "Book not found");
    await assertAccessible(page, "404");
    // Only the refused requests above (400, 404) show in the console: no script error, no CSP report.
    assert.deepEqual(
      errors.filter((e) => !/^Failed to load resource: the server responded with a status of 40[04]/.test(e)),
      [],
      "no console errors",
    );
    await context.close();
  });
});

describe("buying", () => {
  it("add to cart → checkout with 4242… → the order page turns Confirmed without a reload, and the stock follows live", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signUp(page, `buyer-${Date.now()}@example.com`);
    // Another tab on the book page follows the stock live.
    const watcher = await context.newPage();
    await watcher.goto(`${store.url}/books/${HOUND}`);
    const before = await textOf(watcher, "#stock");
    assert.match(before, /^Only \d left$/);
    const watcherLoads = countLoads(watcher);

    await page.goto(`${store.url}/books/${HOUND}`);
    await submitTo(page, "Add to cart", `${store.url}/cart`);
    assert.equal(await page.locator("tbody tr").count(), 1);
    await assertAccessible(page, "cart");
    await page.getByRole("link", { name: "Cart" }).click();
    await submitTo(page, "Checkout", /\/checkout\??$/);
    await assertAccessible(page, "checkout");
    // Field-level errors first.
    await page.getByRole("button", { name: "Place order" }).click();
    assert.equal(await textOf(page, "#card-number-error"), "Enter the 12 to 19 digits of your card number.");
    await assertAccessible(page, "checkout with errors");
    await fillCheckout(page, "4242 4242 4242 4242");
    const loads = countLoads(page);
    await submitTo(page, "Place order", /\/orders\/[0-9a-f-]{36}$/);
    const loadsAfterPlacing = loads();
    await page.locator("#order-status", { hasText: "Confirmed" }).waitFor({ timeout: 30_000 });
    assert.equal(loads(), loadsAfterPlacing, "Confirmed arrived without a reload");
    await assertAccessible(page, "order confirmed");

    const after = `Only ${Number(before.split(" ")[1]) - 1} left`;
    await watcher.locator("#stock", { hasText: after }).waitFor({ timeout: 20_000 });
    assert.equal(watcherLoads(), 0, "the stock changed without a reload");

    // Correct on a reload, without JavaScript too.
    const orderUrl = page.url();
    const noJs = await browser.newContext({ javaScriptEnabled: false, storageState: await context.storageState() });
    const plain = await noJs.newPage();
    await plain.goto(orderUrl);
    assert.equal(await textOf(plain, "#order-status"), "Confirmed");
    await noJs.close();
    await page.getByRole("link", { name: "Orders", exact: true }).click();
    assert.equal(await page.locator("tbody tr").count(), 1);
    assert.match(await textOf(page, "tbody tr"), /Confirmed/);
    await assertAccessible(page, "orders");
    await context.close();
  });

  it("the decline card ends Cancelled, with the reason shown", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signUp(page, `declined-${Date.now()}@example.com`);
    await page.goto(`${store.url}/books/1`);
    await page.getByRole("button", { name: "Add to cart" }).click();
    await page.waitForURL(`${store.url}/cart`);
    await submitTo(page, "Checkout", /\/checkout\??$/);
    await fillCheckout(page, "4000 0000 0000 0002");
    await submitTo(page, "Place order", /\/orders\/[0-9a-f-]{36}$/);
    const loads = countLoads(page);
    await page.locator("#order-status", { hasText: "Cancelled" }).waitFor({ timeout: 30_000 });
    assert.equal(loads(), 0, "Cancelled arrived without a reload");
    await page.locator("#cancel-reason", { hasText: "Your card was declined" }).waitFor({ timeout: 5_000 });
    await page.reload();
    assert.equal(await textOf(page, "#order-status"), "Cancelled");
    assert.equal(await textOf(page, "#cancel-reason"), "Your card was declined");
    await assertAccessible(page, "order cancelled");
    await context.close();
  });

  it("the book page still renders, with a notice, when Reviews is down", async () => {
    await store.stopService("reviews");
    const page = await browser.newPage();
    const response = await page.goto(`${store.url}/books/2`);
    assert.equal(response?.status(), 200);
    assert.equal(await textOf(page, "h1"), "Murder on the Orient Express");
    assert.equal(
      await textOf(page, "#reviews .notice"),
      "Reviews are unavailable right now. Please try again in a moment.",
    );
    assert.doesNotMatch(await page.content(), /UNAVAILABLE|ECONNREFUSED|at .*\.ts:\d+/);
    await assertAccessible(page, "book page without reviews");
    await page.close();
  });
});

async function fillCheckout(page: Page, card: string): Promise<void> {
  await page.getByLabel("Full name").fill("Ada Reader");
  await page.getByLabel("Street address").fill("1 Library Lane");
  await page.getByLabel("Town or city").fill("Springfield");
  await page.getByLabel("Postal code").fill("12345");
  await page.getByLabel("Country code").fill("US");
  await page.getByLabel("Card number").fill(card);
  await page.getByLabel("Expiry").fill("12/34");
  await page.getByLabel("CVC").fill("123");
}
