// The back-office in a real browser against the real store services (every one; Notifications
// with an SMTP server that refuses connections, so its mails fail and are dead-lettered): only
// admins get in, every action is checked on the server and logged with who
// did it; orders (search, ship, deliver, refund), stock, catalogue, dead letters (inspect,
// replay, discard) and the mailbox. axe-core runs on every page.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { assertAccessible, launchChromium, submitTo, textOf } from "../services/marketplace/src/fixtures/browser.js";
import { ADMIN, type StoreHarness, startStoreHarness } from "../services/marketplace/src/fixtures/store-harness.js";

let store: StoreHarness;
let browser: Browser;

before(async () => {
  // Mails go to an SMTP server that is not there: every attempt fails, and after two the task is
  // dead-lettered for the back-office to replay or discard.
  store = await startStoreHarness({
    notificationsEnv: { SMTP_URL: "smtp://127.0.0.1:1", EVENT_BUS_MAX_ATTEMPTS: "2", EVENT_BUS_RETRY_DELAY_MS: "200" },
  });
  browser = await launchChromium();
});
after(async () => {
  // Bounded: a browser that crashed under load must not hold the run.
  await Promise.race([browser?.close(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  await store?.stop();
});

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${store.url}/account/sign-in`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await submitTo(page, "Sign in", `${store.url}/account`);
}

function adminActions(): { action: unknown; admin_email: unknown; outcome: unknown }[] {
  return store.logLines
    .filter((line) => line.msg === "admin action")
    .map((line) => ({ action: line.action, admin_email: line.admin_email, outcome: line.outcome }));
}

describe("the back-office", () => {
  it("lets only admins in, and logs every action with who did it", async () => {
    const visitor = await browser.newPage();
    await visitor.goto(`${store.url}/admin/orders`);
    assert.equal(visitor.url(), `${store.url}/account/sign-in?return_to=%2Fadmin%2Forders`);
    await visitor.close();

    // A shopper buys a book, then is refused the back-office.
    const shopperContext = await browser.newContext();
    const shopper = await shopperContext.newPage();
    const email = `buyer-${Date.now()}@example.com`;
    await shopper.goto(`${store.url}/account/sign-up`);
    await shopper.getByLabel("Email").fill(email);
    await shopper.getByLabel("Password").fill("a long enough password 42");
    await submitTo(shopper, "Create account", `${store.url}/account`);
    await shopper.goto(`${store.url}/books/2`);
    await submitTo(shopper, "Add to cart", `${store.url}/cart`);
    await submitTo(shopper, "Checkout", /\/checkout\??$/);
    for (const [label, value] of [
      ["Full name", "Bo Buyer"],
      ["Street address", "2 Shelf Street"],
      ["Town or city", "Booktown"],
      ["Postal code", "54321"],
      ["Country code", "US"],
      ["Card number", "4242424242424242"],
      ["Expiry", "01/33"],
      ["CVC", "321"],
    ] as const) {
      await shopper.getByLabel(label).fill(value);
    }
    await submitTo(shopper, "Place order", /\/orders\/[0-9a-f-]{36}$/);
    await shopper.locator("#order-status", { hasText: "Confirmed" }).waitFor({ timeout: 30_000 });
    const orderId = shopper.url().split("/").at(-1) ?? "";
    const refused = await shopper.goto(`${store.url}/admin`);
    assert.equal(refused?.status(), 403);
    assert.equal(await textOf(shopper, "main p"), "Only administrators can use the back-office.");
    // Forged form posts are refused too: without a CSRF token, and as a shopper with one.
    const forged = await shopper.request.post(`${store.url}/admin/orders/${orderId}/ship`, { form: { reason: "x" } });
    assert.equal(forged.status(), 403);
    assert.ok(store.logLines.some((l) => l.msg === "back-office refused: not an admin"));

    // The admin.
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, ADMIN.email, ADMIN.password);
    await page.getByRole("link", { name: "Back-office" }).click();
    assert.equal(await textOf(page, "h1"), "Back-office");
    assert.ok(await page.getByRole("link", { name: "Live service dashboard" }).isVisible());
    await assertAccessible(page, "back-office");

    // Orders: search by the shopper's email, then ship, deliver and refund.
    await page.getByRole("navigation", { name: "Back-office" }).getByRole("link", { name: "Orders" }).click();
    await page.getByLabel("Email or order number").fill(email);
    await page.getByRole("button", { name: "Find orders" }).click();
    assert.equal(await page.locator("tbody tr").count(), 1);
    assert.match(await textOf(page, "tbody tr"), /Confirmed/);
    await assertAccessible(page, "orders");
    const short = orderId.slice(0, 8);
    await page.getByRole("button", { name: `Ship order ${short}` }).click();
    assert.match(await textOf(page, "[role=status]"), /ship done/);
    await page.goto(`${store.url}/admin/orders?q=${encodeURIComponent(email)}`);
    await page.getByRole("button", { name: `Mark delivered order ${short}` }).click();
    await page.goto(`${store.url}/admin/orders?q=${encodeURIComponent(email)}`);
    await page.getByLabel("Reason").fill("Damaged in transit");
    await page.getByRole("button", { name: `Refund order ${short}` }).click();
    await page.goto(`${store.url}/admin/orders?q=${encodeURIComponent(email)}`);
    assert.match(await textOf(page, "tbody tr"), /Refunded/);

    // Stock: view and adjust.
    await page.goto(`${store.url}/admin/stock`);
    await assertAccessible(page, "stock");
    const row = page.locator("tbody tr").first();
    const title = ((await row.getByRole("link").textContent()) ?? "").trim();
    const onHand = Number(await row.locator("td").nth(3).textContent());
    await row.getByLabel("Change").fill("7");
    await row.getByLabel("Reason").fill("Delivery from the publisher");
    await row.getByRole("button", { name: `Adjust stock of ${title}` }).click();
    assert.match(await textOf(page, "[role=status]"), new RegExp(`now ${onHand + 7} on hand`));

    // Catalogue: edit a book; the shop shows the change.
    await page.goto(`${store.url}/admin/books?q=dune`);
    await page.getByRole("link", { name: "Edit The Dune Chronicles" }).click();
    await assertAccessible(page, "book edit");
    await page.getByLabel("Price (USD)").fill("abc");
    await page.getByRole("button", { name: "Save book" }).click();
    assert.equal(await textOf(page, "#price-error"), "Give a price like 12.99 (at most 100000.00).");
    await page.getByLabel("Title").fill("Dune (anniversary edition)");
    await page.getByLabel("Price (USD)").fill("20.00");
    await page.getByRole("button", { name: "Save book" }).click();
    assert.equal(await textOf(page, "main [role=status], main [role=alert]"), "Book saved.");
    await page.goto(`${store.url}/books/6`);
    assert.equal(await textOf(page, "h1"), "Dune (anniversary edition)");
    assert.equal(await textOf(page, ".price"), "$20.00");

    // Dead letters: the receipt that SMTP refused, inspected, replayed (it fails again), then discarded.
    const deadline = Date.now() + 60_000;
    const letters = () => page.locator("#dl-notifications + table tbody tr");
    await page.goto(`${store.url}/admin/dead-letters`);
    while ((await letters().count()) === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      await page.reload();
    }
    assert.ok((await letters().count()) >= 1, "the failed mail is dead-lettered");
    const letter = letters().first();
    assert.match((await letter.textContent()) ?? "", /SendMail/);
    for (const name of [
      "catalog",
      "inventory",
      "orders",
      "payments",
      "cart",
      "reviews",
      "recommendations",
      "notifications",
    ]) {
      assert.ok(await page.getByRole("heading", { name, exact: true }).isVisible(), name);
    }
    await assertAccessible(page, "dead letters");
    await letter.getByRole("button", { name: /^Replay/ }).click();
    assert.equal(await textOf(page, "[role=status]"), "Dead letter replayed.");
    const again = Date.now() + 60_000;
    while ((await letters().count()) === 0 && Date.now() < again) {
      await new Promise((r) => setTimeout(r, 500));
      await page.goto(`${store.url}/admin/dead-letters`);
    }
    // Named by its own form's action (it holds the letter's id): the replayed mail fails again
    // and may be dead-lettered anew at any moment, so the count of rows proves nothing.
    const discard = letters().first().locator('form[action$="/discard"]');
    const action = (await discard.getAttribute("action")) ?? "";
    assert.match(action, /^\/admin\/dead-letters\/notifications\/.+\/discard$/);
    await discard.getByRole("button", { name: /^Discard/ }).click();
    assert.equal(await textOf(page, "[role=status]"), "Dead letter discarded.");
    assert.equal(await page.locator(`form[action="${action}"]`).count(), 0, "the discarded letter is gone");

    // The mailbox has the shopper's receipt.
    await page.goto(`${store.url}/admin/mail?to=${encodeURIComponent(email)}`);
    await assertAccessible(page, "mailbox");
    // SMTP refused it, so it may not be rendered yet: the link names the order either way.
    await page
      .getByRole("link", { name: new RegExp(`order ${orderId}`) })
      .first()
      .click();
    assert.match(await textOf(page, "main dl"), new RegExp(orderId));
    await assertAccessible(page, "mail");

    const actions = adminActions();
    for (const action of ["order", "stock adjust", "book update", "dead letter"]) {
      assert.ok(
        actions.some((a) => a.action === action && a.admin_email === ADMIN.email && a.outcome === "ok"),
        `${action} logged with the admin: ${JSON.stringify(actions)}`,
      );
    }
    assert.equal(actions.filter((a) => a.action === "order" && a.outcome === "ok").length, 3);
    await context.close();
    await shopperContext.close();
  });
});
