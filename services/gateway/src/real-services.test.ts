// The gateway in front of the real Accounts, Catalog and Orders (started as production starts them, on
// PostgreSQL and the pg-boss bus): the catalogue as anonymous REST, shopper tokens Accounts
// signs, and the OAuth2 client-credentials grant through Accounts' IssueClientToken, each token
// verified against Accounts' JWKS by the gateway and the services alike.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { accountsService, withOwnTokenVerification } from "@obfy/accounts";
import { catalogService } from "@obfy/catalog";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { type RunningService, startService } from "@obfy/kit/service";
import { ordersService } from "@obfy/orders";
import { accountsV1, clientsV1 } from "@obfy/protos";
import { loadApiDescriptors } from "./descriptors.js";
import { createOpenApiCheck } from "./fixtures/openapi-check.js";
import { generateOpenApiDocument } from "./openapi.js";
import { type RunningGateway, startGateway } from "./start-gateway.js";

type Json = Record<string, unknown>;
const PASSWORD = "correct horse battery staple";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === "object" && address !== null ? address.port : 0;
}

describe("gateway with the real Accounts, Catalog and Orders", () => {
  const logger = createLogger({ name: "real", level: "silent" });
  let databases: TestDatabase[];
  let accounts: RunningService<unknown>;
  let catalog: RunningService<unknown>;
  let orders: RunningService<unknown>;
  let otherShopperToken: string;
  let gateway: RunningGateway;
  let check: Awaited<ReturnType<typeof createOpenApiCheck>>;
  let adminToken: string;
  let shopperToken: string;

  before(async () => {
    databases = await Promise.all([
      createTestDatabase(),
      createTestDatabase(),
      createTestDatabase(),
      createTestDatabase(),
    ]);
    const [accountsDb, catalogDb, busDb, ordersDb] = databases as [
      TestDatabase,
      TestDatabase,
      TestDatabase,
      TestDatabase,
    ];
    const metricsPort = await freePort();
    const accountsEnv = withOwnTokenVerification(
      {
        DATABASE_URL: accountsDb.url,
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_HOST: "127.0.0.1",
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: "silent",
        ADMIN_EMAIL: "admin@example.com",
        ADMIN_PASSWORD: PASSWORD,
        DATABASE_CONNECT_TIMEOUT_MS: "15000",
      },
      metricsPort,
    );
    accounts = (await startService(accountsService, { env: accountsEnv, logger })) as RunningService<unknown>;
    const auth = {
      AUTH_JWKS_URL: `http://127.0.0.1:${metricsPort}/.well-known/jwks.json`,
      AUTH_ISSUER: accountsEnv.AUTH_ISSUER ?? "",
      AUTH_AUDIENCE: accountsEnv.AUTH_AUDIENCE ?? "",
    };
    catalog = (await startService(catalogService, {
      logger,
      env: {
        DATABASE_URL: catalogDb.url,
        EVENT_BUS: "postgres",
        EVENT_BUS_DATABASE_URL: busDb.url,
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "off",
        LOG_LEVEL: "silent",
        DATABASE_CONNECT_TIMEOUT_MS: "15000",
        ...auth,
      },
    })) as RunningService<unknown>;
    orders = (await startService(ordersService, {
      logger,
      env: {
        DATABASE_URL: ordersDb.url,
        EVENT_BUS: "postgres",
        EVENT_BUS_DATABASE_URL: busDb.url,
        CATALOG_ADDRESS: `127.0.0.1:${catalog.port}`,
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "off",
        LOG_LEVEL: "silent",
        DATABASE_CONNECT_TIMEOUT_MS: "15000",
        ...auth,
      },
    })) as RunningService<unknown>;
    const openApi = generateOpenApiDocument(loadApiDescriptors());
    check = await createOpenApiCheck(openApi);
    gateway = await startGateway({
      logger,
      openApi,
      env: {
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "off",
        CATALOG_ADDRESS: `127.0.0.1:${catalog.port}`,
        ACCOUNTS_ADDRESS: `127.0.0.1:${accounts.port}`,
        ORDERS_ADDRESS: `127.0.0.1:${orders.port}`,
        ...auth,
      },
    });
    const client = createClient(accountsV1.AccountsServiceService, `127.0.0.1:${accounts.port}`, {
      logger,
      retry: false,
    });
    const info = { ipAddress: "192.0.2.1", userAgent: "gateway-test" };
    const admin = await client.signIn({ email: "admin@example.com", password: PASSWORD, client: info });
    adminToken = admin.signedIn?.accessToken?.token ?? "";
    const shopper = await client.signUp({ email: "reader@example.com", password: PASSWORD, client: info });
    shopperToken = shopper.signedIn?.accessToken?.token ?? "";
    const other = await client.signUp({ email: "other@example.com", password: PASSWORD, client: info });
    otherShopperToken = other.signedIn?.accessToken?.token ?? "";
    client.close();
  });
  after(async () => {
    await gateway?.close();
    await orders?.stop();
    await catalog?.stop();
    await accounts?.stop();
    await Promise.all((databases ?? []).map((d) => d.drop()));
  });

  async function api(path: string, init: RequestInit = {}) {
    const response = await fetch(`${gateway.url}${path}`, init);
    const contentType = response.headers.get("content-type");
    const text = await response.text();
    const body = contentType?.startsWith("application/json") && text !== "" ? (JSON.parse(text) as Json) : text;
    const method = init.method ?? "GET";
    if (response.status < 400) {
      const json = new Headers(init.headers).get("content-type") === "application/json";
      const requestBody = typeof init.body === "string" ? (json ? JSON.parse(init.body) : init.body) : undefined;
      assert.deepEqual(
        check.requestProblems({ method, url: path, requestBody, status: response.status, contentType }),
        [],
      );
    }
    assert.deepEqual(
      check.responseProblems({ method, url: path, status: response.status, contentType, responseBody: body }),
      [],
      `${method} ${path} → ${response.status}`,
    );
    return { response, body };
  }

  test("anonymous callers list, search and get the real catalogue; 304 on a repeat", async () => {
    const list = await api("/v1/books?page_size=5");
    assert.equal(list.response.status, 200);
    const books = (list.body as { books: Json[] }).books;
    assert.equal(books.length, 5);
    assert.match(String((books[0]?.price as Json | undefined)?.amountMinor), /^\d+$/);
    const next = await api(
      `/v1/books?page_size=5&page_token=${encodeURIComponent(String((list.body as Json).nextPageToken))}`,
    );
    assert.notEqual((next.body as { books: Json[] }).books[0]?.bookId, books[0]?.bookId);
    const search = await api("/v1/books:search?query=hobbit");
    assert.equal(search.response.status, 200);
    const first = (search.body as { results: { book: Json }[] }).results[0]?.book;
    assert.ok(first !== undefined, "the seed has The Hobbit");
    const one = await api(`/v1/books/${String(first.bookId)}`);
    assert.equal((one.body as Json).title, first.title);
    const again = await fetch(`${gateway.url}/v1/books/${String(first.bookId)}`, {
      headers: { "if-none-match": one.response.headers.get("etag") ?? "" },
    });
    assert.equal(again.status, 304);
    const missing = await api("/v1/books/99999999");
    assert.equal(missing.response.status, 404);
    assert.equal((missing.body as Json).message, "Book not found");
  });

  test("OAuth2 client credentials through Accounts, and each method's scope", async () => {
    const clients = createClient(clientsV1.ClientsServiceService, `127.0.0.1:${accounts.port}`, {
      logger,
      retry: false,
    });
    const created = await clients.createClient(
      { client: { clientId: "", displayName: "Partner bookshop", allowedScopes: ["orders:read"], createdBy: "" } },
      { metadata: { authorization: `Bearer ${adminToken}` } },
    );
    clients.close();
    const id = created.client?.clientId ?? "";
    const basic = Buffer.from(`${id}:${created.clientSecret}`).toString("base64");
    const form = "grant_type=client_credentials";
    const token = await api("/oauth/token", {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
      body: form,
    });
    assert.equal(token.response.status, 200);
    const granted = token.body as { access_token: string; scope: string; expires_in: number };
    assert.equal(granted.scope, "orders:read");
    assert.ok(granted.expires_in > 0 && granted.expires_in <= 300);
    const denied = await api("/v1/webhooks", { headers: { authorization: `Bearer ${granted.access_token}` } });
    assert.equal(denied.response.status, 403);
    assert.match(String((denied.body as Json).message), /webhooks:manage/);
    const wrong = await api("/oauth/token", {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${id}:not-the-secret`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: form,
    });
    assert.equal(wrong.response.status, 401);
    assert.equal((wrong.body as Json).error, "invalid_client");
    const tooMuch = await api("/oauth/token", {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
      body: `${form}&scope=cart:write`,
    });
    assert.equal((tooMuch.body as Json).error, "invalid_scope");
  });

  test("a shopper's token from Accounts is verified against its JWKS; admin methods refuse it", async () => {
    const create = await api("/v1/books", {
      method: "POST",
      headers: { authorization: `Bearer ${shopperToken}`, "content-type": "application/json" },
      body: JSON.stringify({ title: "x" }),
    });
    assert.equal(create.response.status, 403);
    assert.equal((create.body as Json).message, "This needs an admin account");
    const categories = await api("/v1/categories", { headers: { authorization: `Bearer ${shopperToken}` } });
    assert.equal(categories.response.status, 200);
    assert.equal(categories.response.headers.get("cache-control"), "private, max-age=60");
    const forged = await api("/v1/categories", { headers: { authorization: `Bearer ${shopperToken}x` } });
    assert.equal(forged.response.status, 401);
  });

  test("a shopper's order placed through REST reaches its owner and nobody else (the real Orders)", async () => {
    const books = (await api("/v1/books?page_size=1")).body as { books: Json[] };
    const bookId = String(books.books[0]?.bookId);
    const placed = await api("/v1/orders", {
      method: "POST",
      headers: { authorization: `Bearer ${shopperToken}`, "content-type": "application/json" },
      body: JSON.stringify({
        idempotencyKey: "gateway-test-1",
        lines: [{ bookId, quantity: 1 }],
        paymentMethodId: "pm_test_1",
        shippingAddress: {
          recipientName: "A Reader",
          addressLine: "1 Main Street",
          locality: "Springfield",
          postalCode: "12345",
          regionCode: "US",
        },
      }),
    });
    assert.equal(placed.response.status, 200, JSON.stringify(placed.body));
    const order = placed.body as Json;
    assert.equal(order.status, "ORDER_STATUS_PENDING");
    const orderId = String(order.orderId);
    const own = await api(`/v1/orders/${orderId}`, { headers: { authorization: `Bearer ${shopperToken}` } });
    assert.equal(own.response.status, 200);
    assert.equal((own.body as Json).orderId, orderId);
    const theirs = await api(`/v1/orders/${orderId}`, { headers: { authorization: `Bearer ${otherShopperToken}` } });
    assert.equal(theirs.response.status, 404);
    assert.equal((theirs.body as Json).message, "Order not found");
    const cancel = await api(`/v1/orders/${orderId}:cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${otherShopperToken}`, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(cancel.response.status, 404);
    const list = await api("/v1/orders", { headers: { authorization: `Bearer ${otherShopperToken}` } });
    assert.deepEqual((list.body as { orders: Json[] }).orders, []);
    const mine = await api("/v1/orders", { headers: { authorization: `Bearer ${shopperToken}` } });
    assert.deepEqual(
      (mine.body as { orders: Json[] }).orders.map((o) => o.orderId),
      [orderId],
    );
  });
});
