// A client generated from /openapi.json (openapi-typescript types, openapi-fetch calls) lists,
// searches and gets books through the gateway; every exchange is checked against the document.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import createClient from "openapi-fetch";
import type { paths } from "../generated/openapi.js";
import { type GatewayHarness, startGatewayHarness } from "./fixtures/gateway-harness.js";

describe("a client generated from /openapi.json", () => {
  let h: GatewayHarness;
  let client: ReturnType<typeof createClient<paths>>;
  before(async () => {
    h = await startGatewayHarness();
    // Every exchange the client makes goes through the harness's checked fetch.
    const checkedFetch = async (input: Request): Promise<Response> => {
      const url = new URL(input.url);
      const body = input.method === "GET" ? undefined : await input.clone().text();
      const { response, body: parsed } = await h.api(`${url.pathname}${url.search}`, {
        method: input.method,
        headers: input.headers,
        ...(body === undefined || body === "" ? {} : { json: JSON.parse(body) }),
      });
      return new Response(typeof parsed === "string" ? parsed : JSON.stringify(parsed), {
        status: response.status,
        headers: response.headers,
      });
    };
    client = createClient<paths>({ baseUrl: h.url, fetch: checkedFetch });
  });
  after(() => h?.stop());

  test("the build generated its types from the document the gateway serves", async () => {
    const served = (await (await fetch(`${h.url}/openapi.json`)).json()) as unknown;
    const built = JSON.parse(readFileSync(new URL("../generated/openapi.json", import.meta.url), "utf8")) as unknown;
    assert.deepEqual(served, built, "generated/ is stale: npm run build -w @obfy/gateway");
    const types = readFileSync(new URL("../generated/openapi.d.ts", import.meta.url), "utf8");
    assert.match(types, /"\/v1\/books:search": \{/);
  });

  test("lists books page by page", async () => {
    const first = await client.GET("/v1/books", { params: { query: { page_size: 10 } } });
    assert.equal(first.response.status, 200);
    assert.equal(first.data?.books?.length, 10);
    assert.equal(first.data?.totalSize, 45);
    const next = await client.GET("/v1/books", {
      params: { query: { page_size: 10, page_token: first.data?.nextPageToken ?? "" } },
    });
    assert.equal(next.data?.books?.[0]?.bookId, "11");
    const filtered = await client.GET("/v1/books", { params: { query: { category_id: "mystery", page_size: 100 } } });
    assert.ok(filtered.data?.books?.every((b) => b.categoryIds?.includes("mystery")));
  });

  test("searches books", async () => {
    const { data } = await client.GET("/v1/books:search", { params: { query: { query: "hobbit" } } });
    assert.deepEqual(
      data?.results?.map((r) => r.book?.title),
      ["The Hobbit"],
    );
  });

  test("gets a book, and a missing one is a google.rpc.Status", async () => {
    const { data } = await client.GET("/v1/books/{book_id}", { params: { path: { book_id: "3" } } });
    assert.equal(data?.title, "The Hobbit");
    assert.equal(data?.price?.amountMinor, "399");
    const missing = await client.GET("/v1/books/{book_id}", { params: { path: { book_id: "404" } } });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.error?.message, "Book not found");
  });
});
