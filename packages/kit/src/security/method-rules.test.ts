// The access rules declared in the protos, enforced by createServerSecurity's interceptor on a
// real server over loopback: anonymous, scoped, admin-only, internal and unannotated methods,
// with tokens signed by a test identity standing in for Accounts.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { cartV1, catalogV1, dummyV1, inventoryV1, ordersV1 } from "@obfy/protos";
import { createClient } from "../client/create-client.js";
import { createTestIdentity, type TestIdentity } from "../dev/test-identity.js";
import { createLogger } from "../logger.js";
import { createServer, type KitServer } from "../server/create-server.js";
import { defineService } from "../server/service.js";
import { principalOf } from "./jwt-auth.js";
import { readMethodRules } from "./method-rules.js";
import { createServerSecurity } from "./security-from-env.js";

const seen: string[] = [];

/** A service whose every method answers a default response and records who called. */
function echoService<D extends Parameters<typeof defineService>[0]>(definition: D) {
  const methods = definition as unknown as Record<string, { responseDeserialize(bytes: Buffer): unknown }>;
  const handlers = new Proxy(
    {},
    {
      get: (_target, key) => (_request: unknown, context: Parameters<typeof principalOf>[0]) => {
        seen.push(`${String(key)}:${principalOf(context)?.subject ?? "anonymous"}`);
        // Decoding no bytes gives the response message with every field at its default.
        return methods[String(key)]?.responseDeserialize(Buffer.alloc(0));
      },
    },
  );
  return defineService(definition, handlers as never);
}

async function startServer(env: NodeJS.ProcessEnv): Promise<{ server: KitServer; target: string }> {
  const security = createServerSecurity(env, {
    anonymousMethods: ["/kit.testing.v1.DummyService/ExecuteClientStream"],
  });
  const server = createServer({
    services: [
      echoService(catalogV1.CatalogServiceService),
      echoService(ordersV1.OrdersServiceService),
      echoService(cartV1.CartServiceService),
      echoService(inventoryV1.InventoryServiceService),
      echoService(dummyV1.DummyServiceService),
    ],
    logger: createLogger({ name: "rules-test", level: "silent" }),
    config: {
      host: "127.0.0.1",
      port: 0,
      shutdownGraceSeconds: 1,
      reflection: false,
      maxReceiveMessageBytes: 1 << 20,
      maxConnectionAgeMs: undefined,
    },
    interceptors: security.interceptors,
  });
  const { port } = await server.listen();
  return { server, target: `127.0.0.1:${port}` };
}

test("the rules are read from the protos", () => {
  const rules = readMethodRules();
  assert.deepEqual(rules.get("/bookstore.catalog.v1.CatalogService/GetBook"), {
    anonymous: true,
    scopes: [],
    admin: false,
    internal: false,
  });
  assert.equal(rules.get("/bookstore.catalog.v1.CatalogService/CreateBook")?.admin, true);
  assert.deepEqual(rules.get("/bookstore.orders.v1.OrdersService/GetOrder")?.scopes, ["orders:read"]);
  assert.equal(rules.get("/bookstore.inventory.v1.InventoryService/ReserveStock")?.internal, true);
  assert.equal(rules.get("/kit.testing.v1.DummyService/Execute"), undefined);
});

describe("rules enforced with a key source (AUTH_JWKS)", () => {
  let identity: TestIdentity;
  let server: KitServer;
  let target: string;
  before(async () => {
    identity = await createTestIdentity();
    ({ server, target } = await startServer({ ...identity.env }));
  });
  after(() => server?.shutdown());

  const call = async <T>(make: (t: string) => T, run: (client: T) => Promise<unknown>) => {
    const client = make(target) as T & { close(): void };
    try {
      return await run(client);
    } finally {
      client.close();
    }
  };
  const catalog = (t: string) => createClient(catalogV1.CatalogServiceService, t, { retry: false });
  const orders = (t: string) => createClient(ordersV1.OrdersServiceService, t, { retry: false });
  const cart = (t: string) => createClient(cartV1.CartServiceService, t, { retry: false });

  test("anonymous methods need no token, but refuse a bad one", async () => {
    await call(catalog, (c) => c.listCategories({}));
    await assert.rejects(
      call(catalog, (c) => c.listCategories({}, { metadata: { authorization: "Bearer not.a.token" } })),
      { codeName: "UNAUTHENTICATED", details: "A valid bearer token is required" },
    );
    const expired = await identity.metadata({ subject: "u1", expiresInSeconds: -120 });
    await assert.rejects(
      call(catalog, (c) => c.listCategories({}, { metadata: expired })),
      { codeName: "UNAUTHENTICATED" },
    );
  });

  test("admin methods: no token is UNAUTHENTICATED, a shopper is PERMISSION_DENIED, an admin passes", async () => {
    await assert.rejects(
      call(catalog, (c) => c.createBook({})),
      { codeName: "UNAUTHENTICATED" },
    );
    const shopper = await identity.metadata({ subject: "u1" });
    await assert.rejects(
      call(catalog, (c) => c.createBook({}, { metadata: shopper })),
      {
        codeName: "PERMISSION_DENIED",
        details: "This needs an admin account",
      },
    );
    const admin = await identity.metadata({ subject: "a1", role: "admin", scopes: [] });
    await call(catalog, (c) => c.createBook({}, { metadata: admin }));
    assert.ok(seen.includes("createBook:a1"));
  });

  test("scoped methods: the token must carry the scope, and the handler sees the caller", async () => {
    await assert.rejects(
      call(orders, (c) => c.getOrder({ orderId: "x" })),
      { codeName: "UNAUTHENTICATED" },
    );
    const client = await identity.metadata({ subject: "cli_partner", role: "client", scopes: ["orders:write"] });
    await assert.rejects(
      call(orders, (c) => c.getOrder({ orderId: "x" }, { metadata: client })),
      {
        codeName: "PERMISSION_DENIED",
        details: 'Token lacks the scope "orders:read" required for /bookstore.orders.v1.OrdersService/GetOrder',
      },
    );
    const shopper = await identity.metadata({ subject: "u2" });
    await call(orders, (c) => c.getOrder({ orderId: "x" }, { metadata: shopper }));
    assert.ok(seen.includes("getOrder:u2"));
  });

  test("anonymous-with-scopes methods: open without a token, a token must carry the scope", async () => {
    await call(cart, (c) => c.addCartLine({ bookId: "1", quantity: 1 }));
    const reader = await identity.metadata({ subject: "cli_reader", role: "client", scopes: ["cart:read"] });
    await assert.rejects(
      call(cart, (c) => c.addCartLine({ bookId: "1", quantity: 1 }, { metadata: reader })),
      {
        codeName: "PERMISSION_DENIED",
      },
    );
  });

  test("internal methods need no token; methods without a rule need one unless listed anonymous", async () => {
    await call(
      (t) => createClient(inventoryV1.InventoryServiceService, t, { retry: false }),
      (c) => c.reserveStock({ reservationKey: "k", lines: [] }),
    );
    const dummy = (t: string) => createClient(dummyV1.DummyServiceService, t, { retry: false });
    await assert.rejects(
      call(dummy, (c) => c.execute({ input: "x" })),
      { codeName: "UNAUTHENTICATED" },
    );
    const shopper = await identity.metadata({ subject: "u3", scopes: [] });
    await call(dummy, (c) => c.execute({ input: "x" }, { metadata: shopper }));
    await call(dummy, (c) => c.executeClientStream((async function* () {})()));
  });

  test("a token from another issuer's key is refused", async () => {
    const other = await createTestIdentity();
    await assert.rejects(
      call(orders, async (c) => c.getOrder({ orderId: "x" }, { metadata: await other.metadata({ subject: "u4" }) })),
      { codeName: "UNAUTHENTICATED" },
    );
  });
});

describe("plaintext policy and no key source", () => {
  test("AUTH_PLAINTEXT_TOKENS=deny refuses a token even from loopback; loopback (default) takes it", async () => {
    const identity = await createTestIdentity();
    const denying = await startServer({ ...identity.env, AUTH_PLAINTEXT_TOKENS: "deny" });
    const client = createClient(ordersV1.OrdersServiceService, denying.target, { retry: false });
    try {
      await assert.rejects(
        client.getOrder({ orderId: "x" }, { metadata: await identity.metadata({ subject: "u5" }) }),
        {
          codeName: "UNAUTHENTICATED",
          details: "bearer tokens require TLS",
        },
      );
    } finally {
      client.close();
      await denying.server.shutdown();
    }
    assert.throws(
      () => createServerSecurity({ ...identity.env, AUTH_PLAINTEXT_TOKENS: "sometimes" }),
      /AUTH_PLAINTEXT_TOKENS must be/,
    );
  });

  test("without a key source, methods without a rule stay open and rule-protected ones are shut", async () => {
    const { server, target } = await startServer({});
    const dummy = createClient(dummyV1.DummyServiceService, target, { retry: false });
    const catalog = createClient(catalogV1.CatalogServiceService, target, { retry: false });
    try {
      await dummy.execute({ input: "x" });
      await catalog.getBook({ bookId: "1" });
      await assert.rejects(catalog.createBook({}), { codeName: "UNAUTHENTICATED" });
    } finally {
      dummy.close();
      catalog.close();
      await server.shutdown();
    }
  });
});
