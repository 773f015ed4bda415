// The gateway over real sockets, in front of stand-ins on the real contracts (see
// fixtures/stand-ins.ts); every exchange is checked against the OpenAPI document.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { type GatewayHarness, PARTNER, startGatewayHarness } from "./fixtures/gateway-harness.js";

type Json = Record<string, unknown>;

describe("gateway", () => {
  let h: GatewayHarness;
  let shopper: string;
  let otherShopper: string;
  before(async () => {
    h = await startGatewayHarness();
    shopper = await h.identity.token({ subject: "acc-shopper-1", expiresInSeconds: 3600 });
    otherShopper = await h.identity.token({ subject: "acc-shopper-2", expiresInSeconds: 3600 });
  });
  after(() => h?.stop());

  describe("transcoding", () => {
    test("GET /v1/books lists books in canonical proto3 JSON, with page tokens passed through", async () => {
      const first = await h.api("/v1/books?page_size=20");
      assert.equal(first.response.status, 200);
      const page = first.body as { books: Json[]; nextPageToken: string; totalSize: number };
      assert.equal(page.books.length, 20);
      assert.equal(page.totalSize, 45);
      assert.deepEqual(page.books[0]?.price, { currencyCode: "USD", amountMinor: "199" }, "int64 as a string");
      assert.equal(page.books[0]?.createTime, "2023-11-14T22:13:20Z", "Timestamp as RFC 3339");
      assert.ok(page.nextPageToken !== "");
      const second = await h.api(`/v1/books?page_size=20&page_token=${encodeURIComponent(page.nextPageToken)}`);
      const ids = (second.body as { books: Json[] }).books.map((b) => b.bookId);
      assert.equal(ids[0], "21");
    });

    test("GET /v1/books/{book_id} answers the response_body field", async () => {
      const { response, body } = await h.api("/v1/books/3");
      assert.equal(response.status, 200);
      assert.equal((body as Json).title, "The Hobbit");
      assert.equal((body as Json).book, undefined);
    });

    test("GET /v1/books:search takes the query from the query string", async () => {
      const { body } = await h.api(`/v1/books:search?query=${encodeURIComponent("hobbit tolkien")}`);
      const results = (body as { results: { book: Json }[] }).results;
      assert.deepEqual(
        results.map((r) => r.book.bookId),
        ["3"],
      );
    });

    test("repeated query parameters fill a repeated field", async () => {
      const { body } = await h.api("/v1/books:batchGet?book_ids=1&book_ids=999&book_ids=2");
      assert.deepEqual(
        (body as { books: Json[] }).books.map((b) => b.bookId),
        ["1", "2"],
      );
      assert.deepEqual((body as Json).missingBookIds, ["999"]);
    });

    test("a google.api.HttpBody response is the body itself", async () => {
      const response = await fetch(`${h.url}/v1/books/2/cover`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "image/svg+xml");
      assert.match(await response.text(), /<svg/);
    });

    test("body field: POST /v1/books sends the JSON as CreateBookRequest.book (admins only)", async () => {
      const admin = await h.identity.token({ subject: "admin-1", role: "admin" });
      const book = {
        isbn: "9780000099999",
        title: "New",
        authors: ["A"],
        categoryIds: ["mystery"],
        price: { currencyCode: "USD", amountMinor: "1000" },
      };
      const { response, body } = await h.api("/v1/books", {
        method: "POST",
        headers: { authorization: `Bearer ${admin}` },
        json: book,
      });
      assert.equal(response.status, 200);
      assert.equal((body as Json).title, "New");
      assert.equal(response.headers.get("cache-control"), "no-store");
    });
  });

  describe("errors", () => {
    test("a service's error is a google.rpc.Status with the mapped HTTP status", async () => {
      const { response, body } = await h.api("/v1/books/999");
      assert.equal(response.status, 404);
      assert.deepEqual(body, { code: 5, message: "Book not found", details: [] });
    });

    test("an unknown query parameter is 400 naming it", async () => {
      const { response, body } = await h.api("/v1/books?colour=red");
      assert.equal(response.status, 400);
      const status = body as { code: number; message: string; details: Json[] };
      assert.equal(status.code, 3);
      assert.equal(status.message, 'Unknown query parameter "colour"');
      assert.equal(status.details[0]?.["@type"], "type.googleapis.com/google.rpc.BadRequest");
      assert.deepEqual(status.details[0]?.fieldViolations, [
        { field: "colour", description: 'Unknown query parameter "colour"' },
      ]);
    });

    test("a value of the wrong type is 400 naming the field", async () => {
      const { response, body } = await h.api("/v1/books?page_size=lots");
      assert.equal(response.status, 400);
      assert.match((body as Json).message as string, /page_size/);
    });

    test("an unknown field in a JSON body is 400 naming it, with its path", async () => {
      const admin = await h.identity.token({ subject: "admin-1", role: "admin" });
      const { response, body } = await h.api("/v1/books", {
        method: "POST",
        headers: { authorization: `Bearer ${admin}` },
        json: { title: "x", price: { currencyCode: "USD", amountMinr: "1" } },
      });
      assert.equal(response.status, 400);
      assert.equal((body as Json).message, 'Unknown field "price.amountMinr"');
    });

    test("malformed JSON is 400 saying where", async () => {
      const admin = await h.identity.token({ subject: "admin-1", role: "admin" });
      const { response, body } = await h.api("/v1/books", {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: '{"title": "x",}',
      });
      assert.equal(response.status, 400);
      assert.match((body as Json).message as string, /^Malformed JSON body: .*position 14/);
    });

    test("a body larger than the limit is 413", async () => {
      const admin = await h.identity.token({ subject: "admin-1", role: "admin" });
      const { response, body } = await h.api("/v1/books", {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ description: "x".repeat(2 * 1024 * 1024) }),
      });
      assert.equal(response.status, 413);
      assert.equal((body as Json).message, "Request body is too large");
    });

    test("an unknown path is 404 and a wrong method 405 with Allow", async () => {
      const missing = await fetch(`${h.url}/v1/nothing-here`);
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), { code: 5, message: "No such API method", details: [] });
      const wrong = await fetch(`${h.url}/v1/books/1`, { method: "DELETE" });
      assert.equal(wrong.status, 405);
      assert.equal(wrong.headers.get("allow"), "GET, PATCH");
    });
  });

  describe("who may call", () => {
    test("anonymous callers may read the catalogue but not orders", async () => {
      assert.equal((await h.api("/v1/categories")).response.status, 200);
      const { response, body } = await h.api("/v1/orders");
      assert.equal(response.status, 401);
      assert.equal((body as Json).code, 16);
      assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer/);
    });

    test("an invalid token is 401 even where anonymous callers are allowed", async () => {
      const { response } = await h.api("/v1/books", { headers: { authorization: "Bearer not.a.token" } });
      assert.equal(response.status, 401);
    });

    test("a token without the method's scope is 403 naming the scope", async () => {
      const token = await h.identity.token({ subject: "cli_x", role: "client", scopes: ["webhooks:manage"] });
      const { response, body } = await h.api("/v1/orders", { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 403);
      assert.equal(
        (body as Json).message,
        'Token lacks the scope "orders:read" required for /bookstore.orders.v1.OrdersService/ListOrders',
      );
      assert.match(response.headers.get("www-authenticate") ?? "", /insufficient_scope/);
    });

    test("admin methods refuse shoppers", async () => {
      const { response, body } = await h.api("/v1/books", {
        method: "POST",
        headers: { authorization: `Bearer ${shopper}` },
        json: { title: "x" },
      });
      assert.equal(response.status, 403);
      assert.equal((body as Json).message, "This needs an admin account");
    });

    test("a shopper reaches their own order and not someone else's", async () => {
      const mine = h.standIns.addOrder("acc-shopper-1");
      const theirs = h.standIns.addOrder("acc-shopper-2");
      const own = await h.api(`/v1/orders/${mine}`, { headers: { authorization: `Bearer ${shopper}` } });
      assert.equal(own.response.status, 200);
      assert.equal((own.body as Json).ownerId, "acc-shopper-1");
      assert.equal((own.body as Json).status, "ORDER_STATUS_PENDING", "enums as names");
      const other = await h.api(`/v1/orders/${theirs}`, { headers: { authorization: `Bearer ${shopper}` } });
      assert.equal(other.response.status, 404);
      assert.equal((other.body as Json).message, "Order not found");
      const cancel = await h.api(`/v1/orders/${theirs}:cancel`, {
        method: "POST",
        headers: { authorization: `Bearer ${shopper}` },
        json: {},
      });
      assert.equal(cancel.response.status, 404);
      const list = await h.api("/v1/orders", { headers: { authorization: `Bearer ${otherShopper}` } });
      assert.deepEqual(
        (list.body as { orders: Json[] }).orders.map((o) => o.orderId),
        [theirs],
      );
    });

    test("POST /oauth/token exchanges client credentials for a token that carries its scopes", async () => {
      const basic = Buffer.from(`${PARTNER.clientId}:${PARTNER.clientSecret}`).toString("base64");
      const form = "grant_type=client_credentials&scope=orders%3Aread";
      const { response, body } = await h.api("/oauth/token", {
        method: "POST",
        headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
        body: form,
      });
      assert.equal(response.status, 200);
      const token = body as { access_token: string; token_type: string; expires_in: number; scope: string };
      assert.equal(token.token_type, "Bearer");
      assert.equal(token.scope, "orders:read");
      assert.ok(token.expires_in > 200 && token.expires_in <= 300);
      assert.equal(response.headers.get("cache-control"), "no-store");
      const orders = await h.api("/v1/orders", { headers: { authorization: `Bearer ${token.access_token}` } });
      assert.equal(orders.response.status, 200);
      const webhooks = await h.api("/v1/webhooks", { headers: { authorization: `Bearer ${token.access_token}` } });
      assert.equal(webhooks.response.status, 403, "webhooks:manage was not asked for");
    });

    test("POST /oauth/token: a wrong secret is invalid_client, a scope beyond the client's invalid_scope", async () => {
      const wrong = await h.api("/oauth/token", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `grant_type=client_credentials&client_id=${PARTNER.clientId}&client_secret=nope`,
      });
      assert.equal(wrong.response.status, 401);
      assert.equal((wrong.body as Json).error, "invalid_client");
      const scope = await h.api("/oauth/token", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `grant_type=client_credentials&client_id=${PARTNER.clientId}&client_secret=${PARTNER.clientSecret}&scope=cart:write`,
      });
      assert.equal(scope.response.status, 400);
      assert.equal((scope.body as Json).error, "invalid_scope");
      const grant = await h.api("/oauth/token", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=password",
      });
      assert.equal((grant.body as Json).error, "unsupported_grant_type");
    });
  });

  describe("HTTP", () => {
    test("catalogue reads carry an ETag and Cache-Control, and If-None-Match gives 304", async () => {
      const first = await fetch(`${h.url}/v1/books/1`);
      const etag = first.headers.get("etag");
      assert.match(etag ?? "", /^W\/".+"$/);
      assert.equal(first.headers.get("cache-control"), "public, max-age=60");
      const again = await fetch(`${h.url}/v1/books/1`, { headers: { "if-none-match": etag ?? "" } });
      assert.equal(again.status, 304);
      assert.equal(await again.text(), "");
      const other = await fetch(`${h.url}/v1/books/2`, { headers: { "if-none-match": etag ?? "" } });
      assert.equal(other.status, 200);
      h.check.responseProblems({ method: "GET", url: "/v1/books/1", status: 304, contentType: null, responseBody: "" });
    });

    test("gzip and brotli follow Accept-Encoding", async () => {
      const { request } = await import("node:http");
      const get = (encoding: string) =>
        new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
          const req = request(`${h.url}/v1/books?page_size=50`, { headers: { "accept-encoding": encoding } }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          });
          req.on("error", reject);
          req.end();
        });
      const gzip = await get("gzip");
      assert.equal(gzip.headers["content-encoding"], "gzip");
      const br = await get("br");
      assert.equal(br.headers["content-encoding"], "br");
      const plain = await get("identity");
      assert.equal(plain.headers["content-encoding"], undefined);
      assert.deepEqual(JSON.parse(gunzipSync(gzip.body).toString()), JSON.parse(plain.body.toString()));
      assert.deepEqual(JSON.parse(brotliDecompressSync(br.body).toString()), JSON.parse(plain.body.toString()));
      assert.ok(gzip.body.length < plain.body.length / 3);
    });

    test("CORS: a preflight from an allowed origin is answered, others get no CORS headers", async () => {
      const allowed = await fetch(`${h.url}/v1/orders`, {
        method: "OPTIONS",
        headers: {
          origin: "https://partner.example",
          "access-control-request-method": "GET",
          "access-control-request-headers": "authorization",
        },
      });
      assert.equal(allowed.status, 204);
      assert.equal(allowed.headers.get("access-control-allow-origin"), "https://partner.example");
      assert.match(allowed.headers.get("access-control-allow-headers") ?? "", /authorization/);
      const refused = await fetch(`${h.url}/v1/orders`, {
        method: "OPTIONS",
        headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
      });
      assert.equal(refused.headers.get("access-control-allow-origin"), null);
    });

    test("request id, traceparent and the deadline continue into the gRPC call", async () => {
      const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      const before = h.standIns.calls.metadata.length;
      const response = await fetch(`${h.url}/v1/books/1`, {
        headers: { "x-request-id": "req-abc-123", traceparent, "grpc-timeout": "2S" },
      });
      assert.equal(response.headers.get("x-request-id"), "req-abc-123");
      const seen = h.standIns.calls.metadata.slice(before).at(-1);
      assert.equal(seen?.["x-request-id"], "req-abc-123");
      assert.equal(seen?.traceparent, traceparent);
      const left = h.standIns.calls.deadlinesMs.at(-1) ?? 0;
      assert.ok(left > 1000 && left <= 2000, `deadline of 2 s, ${left} ms left on arrival`);
      const capped = await fetch(`${h.url}/v1/books/1`, { headers: { "x-timeout": "999999999" } });
      assert.equal(capped.status, 200);
      const cappedLeft = h.standIns.calls.deadlinesMs.at(-1) ?? 0;
      assert.ok(cappedLeft > 20_000 && cappedLeft <= 30_000, `bounded by GATEWAY_MAX_TIMEOUT_MS: ${cappedLeft}`);
      await fetch(`${h.url}/v1/books/1`);
      const defaultLeft = h.standIns.calls.deadlinesMs.at(-1) ?? 0;
      assert.ok(defaultLeft > 5000 && defaultLeft <= 10_000, `GATEWAY_DEFAULT_TIMEOUT_MS: ${defaultLeft}`);
      const bad = await h.api("/v1/books/1", { headers: { "grpc-timeout": "soon" } });
      assert.equal(bad.response.status, 400);
    });

    test("WatchOrder is a stream of server-sent events", async () => {
      const order = h.standIns.addOrder("acc-shopper-1");
      const response = await fetch(`${h.url}/v1/orders/${order}:watch`, {
        headers: { authorization: `Bearer ${shopper}` },
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
      const text = await response.text();
      const events = text
        .split("\n\n")
        .filter((block) => block.startsWith("event:"))
        .map((block) => ({
          event: /^event: (.*)$/m.exec(block)?.[1],
          data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null") as Json,
        }));
      assert.deepEqual(
        events.map((e) => (e.event === "message" ? e.data.status : e.event)),
        ["ORDER_STATUS_PENDING", "ORDER_STATUS_CONFIRMED", "ORDER_STATUS_SHIPPED", "end"],
      );
      const denied = await fetch(`${h.url}/v1/orders/${order}:watch`, {
        headers: { authorization: `Bearer ${otherShopper}` },
      });
      const deniedText = await denied.text();
      assert.match(deniedText, /event: error\ndata: \{"code":5,"message":"Order not found"/);
    });

    test("/openapi.json is the generated document and /docs serves Swagger UI", async () => {
      const document = (await (await fetch(`${h.url}/openapi.json`)).json()) as Json;
      assert.deepEqual(document, h.openApi);
      const docs = await fetch(`${h.url}/docs/`);
      assert.equal(docs.status, 200);
      assert.match(await docs.text(), /swagger-ui/i);
    });
  });
});

describe("gateway rate limits", () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness({
      env: { GATEWAY_ANONYMOUS_RATE_LIMIT: "3", GATEWAY_RATE_LIMIT: "6", GATEWAY_RATE_WINDOW_MS: "60000" },
    });
  });
  after(() => h?.stop());

  test("anonymous callers get 429 with Retry-After sooner than callers with a token, counted per subject", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await h.api("/v1/categories")).response.status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const limited = await h.api("/v1/categories");
    assert.equal(limited.response.status, 429);
    const retryAfter = Number(limited.response.headers.get("retry-after"));
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.deepEqual(limited.body, { code: 8, message: "Too many requests, retry later", details: [] });

    const token = await h.identity.token({ subject: "acc-busy" });
    const withToken: number[] = [];
    for (let i = 0; i < 7; i++) {
      withToken.push(
        (await h.api("/v1/categories", { headers: { authorization: `Bearer ${token}` } })).response.status,
      );
    }
    assert.deepEqual(withToken, [200, 200, 200, 200, 200, 200, 429], "the higher limit, and its own count");
    const another = await h.identity.token({ subject: "acc-calm" });
    const calm = await h.api("/v1/categories", { headers: { authorization: `Bearer ${another}` } });
    assert.equal(calm.response.status, 200, "another subject has a count of its own");
  });
});
