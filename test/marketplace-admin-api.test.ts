// The back-office's public-API pages in a real browser against the real Accounts and Webhooks
// services (real PostgreSQL, the pg-boss bus): an admin registers an OAuth2 client and sees its
// secret once, the client exchanges it for a token at Accounts and subscribes a webhook with it,
// an order event (published by an Orders stand-in through its outbox, as services/webhooks'
// tests do) fails against a receiver that answers 500, the admin redelivers it from the
// delivery log and sees the new attempt succeed, then revokes the client. Shoppers get 403;
// refused and failed calls show a human message. axe-core runs on every page.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { accountsService, withOwnTokenVerification } from "@obfy/accounts";
import { ClientError, createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createDatabase, type Database, readDatabaseConfig } from "@obfy/kit/db";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import {
  createEventBus,
  type EventBus,
  type EventTables,
  eventsMigrations,
  readEventBusConfig,
} from "@obfy/kit/events";
import { type RunningService, type ServiceDefinition, startService } from "@obfy/kit/service";
import { clientsV1, ordersEventsV1, webhooksV1 } from "@obfy/protos";
import { webhooksService } from "@obfy/webhooks";
import type { Browser, Page } from "playwright-core";
import { assertAccessible, launchChromium, submitTo, textOf } from "../services/marketplace/src/fixtures/browser.js";
import { createCaptureLogger, type LogLine } from "../services/marketplace/src/fixtures/capture-logger.js";
import { ADMIN } from "../services/marketplace/src/fixtures/store-harness.js";
import { type RunningMarketplace, startMarketplace } from "../services/marketplace/src/start-marketplace.js";

const silent = createLogger({ name: "admin-api-test", level: "silent" });
const databases: TestDatabase[] = [];
const services: RunningService<unknown>[] = [];
let webhooks: RunningService<unknown>;
let ordersDb: Database<EventTables>;
let orders: EventBus<EventTables>;
let marketplace: RunningMarketplace;
let logLines: LogLine[];
let url: string;
let browser: Browser;
let accountsClients: ReturnType<typeof createClient<typeof clientsV1.ClientsServiceService>>;
let webhooksClient: ReturnType<typeof createClient<typeof webhooksV1.WebhooksServiceService>>;

/** A webhook receiver that answers `status` and keeps what it got. */
const receiver = {
  server: undefined as Server | undefined,
  origin: "",
  status: 500,
  received: [] as { headers: IncomingHttpHeaders; body: string }[],
};

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

before(async () => {
  const [accountsDb, webhooksDb, busDb, ordersOutbox] = await Promise.all(
    [0, 1, 2, 3].map(async () => {
      const created = await createTestDatabase();
      databases.push(created);
      return created;
    }),
  );
  if (accountsDb === undefined || webhooksDb === undefined || busDb === undefined || ordersOutbox === undefined)
    throw new Error("no databases");
  const common = {
    HOST: "127.0.0.1",
    PORT: "0",
    METRICS_PORT: "off",
    LOG_LEVEL: "silent",
    DATABASE_CONNECT_TIMEOUT_MS: "15000",
    DATABASE_POOL_MAX: "4",
    EVENT_BUS: "postgres",
    EVENT_BUS_DATABASE_URL: busDb.url,
    EVENT_BUS_POOL_SIZE: "2",
    EVENT_BUS_RETRY_DELAY_MS: "200",
    EVENT_BUS_OUTBOX_POLL_MS: "100",
    SHUTDOWN_GRACE_SECONDS: "2",
  };
  const accountsEnv = withOwnTokenVerification(
    { METRICS_HOST: "127.0.0.1", METRICS_PORT: String(await freePort()) },
    accountsService.metricsPort,
  ) as Record<string, string>;
  const accounts = await startService(accountsService as ServiceDefinition<unknown>, {
    env: {
      ...common,
      ...accountsEnv,
      DATABASE_URL: accountsDb.url,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      ARGON2_MEMORY_KIB: "1024",
      ARGON2_TIME_COST: "1",
    },
    logger: silent,
  });
  services.push(accounts);
  const auth = {
    AUTH_JWKS_URL: accountsEnv.AUTH_JWKS_URL ?? "",
    AUTH_ISSUER: accountsEnv.AUTH_ISSUER ?? "",
    AUTH_AUDIENCE: accountsEnv.AUTH_AUDIENCE ?? "",
  };
  // One attempt per delivery, so the first one is final (FAILED) as soon as the receiver answers 500.
  webhooks = await startService(webhooksService as ServiceDefinition<unknown>, {
    env: {
      ...common,
      ...auth,
      DATABASE_URL: webhooksDb.url,
      EVENT_BUS_MAX_ATTEMPTS: "1",
      WEBHOOKS_ALLOWED_HOSTS: "127.0.0.1",
      WEBHOOKS_TIMEOUT_MS: "3000",
    },
    logger: silent,
  });
  services.push(webhooks);

  // The Orders stand-in: its own outbox on the same bus.
  ordersDb = createDatabase<EventTables>({
    config: readDatabaseConfig(ordersOutbox.env, { name: "orders-stand-in" }),
    logger: silent,
    migrations: [eventsMigrations],
  });
  await ordersDb.migrate();
  orders = createEventBus<EventTables>({
    service: "orders",
    db: ordersDb.kysely,
    listen: ordersDb.pool,
    config: readEventBusConfig(common),
    logger: silent,
  });
  await orders.start();

  receiver.server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => {
      receiver.received.push({ headers: request.headers, body });
      response.writeHead(receiver.status).end();
    });
  });
  await new Promise<void>((resolve) => receiver.server?.listen(0, "127.0.0.1", resolve));
  const address = receiver.server.address();
  if (address === null || typeof address === "string") throw new Error("no receiver port");
  receiver.origin = `http://127.0.0.1:${address.port}`;

  const { logger, lines } = createCaptureLogger();
  logLines = lines;
  // Every other store service points at a port nothing listens on: these pages call none of them.
  const nowhere = `127.0.0.1:${await freePort()}`;
  marketplace = await startMarketplace({
    logger,
    env: {
      HOST: "127.0.0.1",
      PORT: "0",
      METRICS_PORT: "off",
      RATE_LIMIT_MAX: "100000",
      CALL_TIMEOUT_MS: "3000",
      COOKIE_SECRET: "a-test-cookie-secret-of-at-least-32-chars",
      ...Object.fromEntries(
        ["CATALOG", "INVENTORY", "REVIEWS", "RECOMMENDATIONS", "CART", "ORDERS", "PAYMENTS", "NOTIFICATIONS"].map(
          (name) => [`${name}_ADDRESS`, nowhere],
        ),
      ),
      ACCOUNTS_ADDRESS: `127.0.0.1:${accounts.port}`,
      WEBHOOKS_ADDRESS: `127.0.0.1:${webhooks.port}`,
    },
  });
  url = marketplace.url;
  accountsClients = createClient(clientsV1.ClientsServiceService, `127.0.0.1:${accounts.port}`, {
    retry: false,
    logger: silent,
  });
  webhooksClient = createClient(webhooksV1.WebhooksServiceService, `127.0.0.1:${webhooks.port}`, {
    retry: false,
    logger: silent,
  });
  browser = await launchChromium();
});

after(async () => {
  await Promise.race([browser?.close(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  accountsClients?.close();
  webhooksClient?.close();
  await marketplace?.close().catch(() => {});
  await new Promise((resolve) => (receiver.server ? receiver.server.close(resolve) : resolve(undefined)));
  await orders?.close().catch(() => {});
  await ordersDb?.close().catch(() => {});
  for (const service of services.reverse()) await service.stop().catch(() => {});
  await Promise.all(databases.map((d) => d.drop().catch(() => {})));
});

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${url}/account/sign-in`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await submitTo(page, "Sign in", `${url}/account`);
}

/** Reloads `path` until `ready` holds (deliveries are sent by the work queue, not by the page). */
async function reloadUntil(page: Page, path: string, what: string, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  await page.goto(`${url}${path}`);
  while (!(await ready())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${await textOf(page, "main")}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await page.goto(`${url}${path}`);
  }
}

function refusedWith(code: string) {
  return (error: unknown) => error instanceof ClientError && error.codeName === code;
}

describe("the back-office's API clients and webhooks", () => {
  it("is for admins only", async () => {
    const context = await browser.newContext();
    const shopper = await context.newPage();
    await shopper.goto(`${url}/account/sign-up`);
    await shopper.getByLabel("Email").fill(`shopper-${Date.now()}@example.com`);
    await shopper.getByLabel("Password").fill("a long enough password 42");
    await submitTo(shopper, "Create account", `${url}/account`);
    for (const path of ["/admin/clients", "/admin/webhooks"]) {
      const refused = await shopper.goto(`${url}${path}`);
      assert.equal(refused?.status(), 403, path);
      assert.equal(await textOf(shopper, "main p"), "Only administrators can use the back-office.");
    }
    const forged = await shopper.request.post(`${url}/admin/clients`, {
      form: { display_name: "Mine", scopes: "orders:read" },
    });
    assert.equal(forged.status(), 403);
    await context.close();
  });

  it("registers a client, shows its secret once, logs deliveries, redelivers, revokes", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, ADMIN.email, ADMIN.password);
    await page.goto(`${url}/admin`);
    const nav = page.getByRole("navigation", { name: "Back-office" });
    await nav.getByRole("link", { name: "API clients" }).click();
    assert.equal(await textOf(page, "h1"), "API clients");
    // (So the shopper's forged post above registered nothing.)
    assert.equal(await textOf(page, "#active-heading + p"), "No active clients.");
    await assertAccessible(page, "API clients");

    // The form refuses an empty registration, next to its fields.
    await page.getByRole("button", { name: "Register client" }).click();
    assert.equal(await textOf(page, "#display_name-error"), "Give the client a name of 1 to 100 characters.");
    assert.equal(await textOf(page, "#scopes-error"), "Choose at least one scope.");
    await assertAccessible(page, "API clients with errors");

    await page.getByLabel("Name").fill("Partner <Books>");
    await page.getByRole("checkbox", { name: /^orders:read/ }).check();
    await page.getByRole("checkbox", { name: /^webhooks:manage/ }).check();
    await page.getByRole("button", { name: "Register client" }).click();
    assert.equal(await textOf(page, "h1"), "Client registered");
    assert.match(await textOf(page, "#secret-once"), /shown only this once and cannot be shown again/);
    const clientId = await page.getByLabel("Client id").inputValue();
    const secret = await page.getByLabel("Client secret").inputValue();
    assert.match(clientId, /^cli_[A-Za-z0-9_-]{22}$/);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    await assertAccessible(page, "client registered");

    // The list has it, escaped, and the secret is nowhere any more.
    await page.getByRole("link", { name: "Back to API clients" }).click();
    const row = page.locator("tbody tr", { hasText: clientId });
    assert.match((await row.textContent()) ?? "", /Partner <Books>.*orders:read, webhooks:manage/s);
    assert.ok(!(await page.content()).includes(secret), "the secret is not shown again");
    assert.ok(!JSON.stringify(logLines).includes(secret), "the secret is never logged");

    // The client exchanges its id and secret for a token (what the gateway's POST /oauth/token
    // calls) and subscribes the test's receiver with it.
    const { accessToken, scope } = await accountsClients.issueClientToken({
      clientId,
      clientSecret: secret,
      scopes: [],
    });
    assert.equal(scope, "orders:read webhooks:manage");
    const asClient = { authorization: `Bearer ${accessToken?.token ?? ""}` };
    const { subscription } = await webhooksClient.createSubscription(
      {
        subscription: {
          subscriptionId: "",
          clientId: "",
          url: `${receiver.origin}/hooks/orders`,
          events: [webhooksV1.WebhookEvent.WEBHOOK_EVENT_ORDER_PLACED],
          description: "Partner order feed",
        },
      },
      { metadata: asClient },
    );
    const subscriptionId = subscription?.subscriptionId ?? "";

    // One of the client's orders is placed; the receiver answers 500, so the delivery fails.
    const orderId = randomUUID();
    await ordersDb.kysely.transaction().execute((trx) =>
      orders.publish(
        trx,
        ordersEventsV1.OrderPlaced,
        ordersEventsV1.OrderPlaced.fromPartial({
          orderId,
          ownerId: clientId,
          lines: [{ bookId: "1", title: "Book 1", quantity: 1, unitPrice: { currencyCode: "USD", amountMinor: 1299 } }],
          total: { currencyCode: "USD", amountMinor: 1299 },
        }),
        { subject: orderId },
      ),
    );
    const deliveries = page.locator("#deliveries tbody tr");
    await nav.getByRole("link", { name: "Webhooks" }).click();
    await reloadUntil(
      page,
      "/admin/webhooks",
      "the failed delivery",
      async () => (await deliveries.count()) === 1 && /Failed/.test((await deliveries.first().textContent()) ?? ""),
    );
    const subscriptionRow = page.locator("table").first().locator("tbody tr", { hasText: clientId });
    assert.match((await subscriptionRow.textContent()) ?? "", /Partner <Books>.*\/hooks\/orders.*order\.placed/s);
    const failed = deliveries.first().locator("td");
    assert.match((await failed.nth(1).textContent()) ?? "", new RegExp(`order\\.placed.*${orderId}`, "s"));
    assert.equal((await failed.nth(3).textContent())?.trim(), "Failed");
    assert.equal((await failed.nth(4).textContent())?.trim(), "1", "attempts");
    assert.equal((await failed.nth(5).textContent())?.trim(), "500", "response code");
    assert.equal((await failed.nth(6).textContent())?.trim(), "HTTP 500");
    await assertAccessible(page, "webhooks");

    // Redeliver: a new delivery of the same event, pending, then succeeded.
    receiver.status = 200;
    await page.getByRole("button", { name: `Redeliver order.placed of order ${orderId.slice(0, 8)}` }).click();
    assert.match(await textOf(page, "[role=status]"), /^Redelivery queued: delivery [0-9a-f]{8} is pending\.$/);
    await reloadUntil(
      page,
      "/admin/webhooks",
      "the redelivery to succeed",
      async () => (await deliveries.count()) === 2 && /Succeeded/.test((await deliveries.first().textContent()) ?? ""),
    );
    const redelivered = deliveries.first().locator("td");
    assert.equal((await redelivered.nth(4).textContent())?.trim(), "1", "attempts");
    assert.equal((await redelivered.nth(5).textContent())?.trim(), "200", "response code");
    assert.equal((await deliveries.nth(1).locator("td").nth(3).textContent())?.trim(), "Failed");
    assert.equal(receiver.received.length, 2);
    assert.equal(receiver.received[0]?.headers["webhook-id"], receiver.received[1]?.headers["webhook-id"]);

    // A delivery that does not exist (a stale page): the service's message, not an error page.
    const stale = `/admin/webhooks/${subscriptionId}/deliveries/${randomUUID()}/redeliver`;
    await page.evaluate(`document.querySelector("#deliveries form").setAttribute("action", ${JSON.stringify(stale)})`);
    await deliveries
      .first()
      .getByRole("button", { name: /^Redeliver/ })
      .click();
    assert.equal(await textOf(page, "[role=alert]"), "Delivery not found");

    // The subscription's own log, and what refused lookups show.
    await page.getByRole("link", { name: `Deliveries to ${receiver.origin}/hooks/orders` }).click();
    assert.equal(new URL(page.url()).searchParams.get("subscription"), subscriptionId);
    assert.equal(await deliveries.count(), 2);
    const unknown = await page.goto(`${url}/admin/webhooks?subscription=${randomUUID()}`);
    assert.equal(unknown?.status(), 404);
    assert.equal(await textOf(page, "#deliveries-heading ~ [role=status]"), "Subscription not found");
    const badToken = await page.goto(`${url}/admin/clients?page_token=bogus`);
    assert.equal(badToken?.status(), 400);
    assert.equal(await textOf(page, "#active-heading + [role=status]"), "Invalid page token");

    // Revoke: the client leaves the active list and its secret stops working.
    await page.goto(`${url}/admin/clients`);
    await page.getByRole("button", { name: `Revoke Partner <Books> (${clientId})` }).click();
    assert.match(await textOf(page, "[role=status]"), /^Client Partner <Books> revoked/);
    assert.equal(await page.locator("#active-heading ~ table tbody tr", { hasText: clientId }).count(), 0);
    assert.equal(await page.locator("#revoked-heading ~ table tbody tr", { hasText: clientId }).count(), 1);
    await assert.rejects(
      accountsClients.issueClientToken({ clientId, clientSecret: secret, scopes: [] }),
      refusedWith("UNAUTHENTICATED"),
    );

    const actions = logLines
      .filter((line) => line.msg === "admin action")
      .map((line) => `${String(line.action)} ${String(line.admin_email)} ${String(line.outcome)}`);
    for (const action of ["client create", "webhook redeliver", "client revoke"]) {
      assert.ok(actions.includes(`${action} ${ADMIN.email} ok`), `${action} logged with the admin: ${actions}`);
    }

    // With the Webhooks service gone, the page says so instead of failing.
    services.splice(services.indexOf(webhooks), 1);
    await webhooks.stop();
    const down = await page.goto(`${url}/admin/webhooks`);
    assert.equal(down?.status(), 503);
    assert.equal(
      await textOf(page, "#deliveries-heading ~ [role=status]"),
      "Webhooks is unavailable right now. Please try again in a moment.",
    );
    await context.close();
  });
});
