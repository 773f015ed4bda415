// The Webhooks service against real PostgreSQL and the pg-boss bus: order events published by an
// Orders stand-in through its outbox reach a receiver over HTTP, signed, retried after a 500,
// logged, redeliverable; targets on private addresses are refused unless allowed.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { ordersEventsV1, webhooksV1 } from "@obfy/protos";
import { type Receiver, startReceiver } from "./fixtures/receiver.js";
import { startWebhooksHarness, type WebhooksHarness } from "./fixtures/webhooks-harness.js";
import { newSigningSecret, signatureHeader, verifySignature } from "./signature.js";
import { checkTarget, isBlockedAddress } from "./target-guard.js";

const { WebhookEvent } = webhooksV1;

function rejects(code: string, message?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.codeName, code, error.message);
    if (message !== undefined) assert.equal(error.details, message);
    return true;
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("target guard", () => {
  test("private, loopback, link-local and mapped addresses are blocked; public ones are not", () => {
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "::1",
      "fe80::1",
      "fd00::1",
      "::ffff:127.0.0.1",
      "0.0.0.0",
      "100.64.0.1",
    ]) {
      assert.equal(isBlockedAddress(address), true, address);
    }
    for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]) {
      assert.equal(isBlockedAddress(address), false, address);
    }
  });

  test("every address a host resolves to is checked", async () => {
    const resolve = async () => [
      { address: "93.184.216.34", family: 4 },
      { address: "10.0.0.5", family: 4 },
    ];
    await assert.rejects(checkTarget("https://mixed.example/hook", new Set(), resolve), /private network address/);
    const ok = await checkTarget("https://public.example/hook", new Set(), async () => [
      { address: "93.184.216.34", family: 4 },
    ]);
    assert.equal(ok.address, "93.184.216.34");
    await assert.rejects(checkTarget("http://public.example/hook", new Set(), resolve), /https/);
  });

  test("signatures verify, and a changed body or an old timestamp does not", () => {
    const secret = newSigningSecret();
    const now = Math.floor(Date.now() / 1000);
    const header = signatureHeader(secret, now, '{"a":1}');
    assert.equal(verifySignature(secret, header, '{"a":1}'), true);
    assert.equal(verifySignature(secret, header, '{"a":2}'), false);
    assert.equal(verifySignature(newSigningSecret(), header, '{"a":1}'), false);
    assert.equal(verifySignature(secret, signatureHeader(secret, now - 3600, "x"), "x"), false);
  });
});

describe("WebhooksService", () => {
  let h: WebhooksHarness;
  let receiver: Receiver;
  let partner: Record<string, string>;
  let other: Record<string, string>;

  before(async () => {
    [h, receiver] = await Promise.all([startWebhooksHarness(), startReceiver()]);
    partner = await h.asClient("cli_partner");
    other = await h.asClient("cli_other");
  });
  after(async () => {
    await receiver?.close();
    await h?.stop();
  });

  async function subscribe(path: string, events = [WebhookEvent.WEBHOOK_EVENT_ORDER_PLACED], metadata = partner) {
    const response = await h.client.createSubscription(
      {
        subscription: { subscriptionId: "", clientId: "", url: `${receiver.origin}${path}`, events, description: path },
      },
      { metadata },
    );
    receiver.secretFor(path, response.signingSecret);
    return response;
  }

  async function placeOrder(ownerId: string) {
    const orderId = randomUUID();
    await h.publish((bus, trx) =>
      bus.publish(
        trx,
        ordersEventsV1.OrderPlaced,
        ordersEventsV1.OrderPlaced.fromPartial({
          orderId,
          ownerId,
          lines: [{ bookId: "1", title: "Book 1", quantity: 1, unitPrice: { currencyCode: "USD", amountMinor: 1299 } }],
          total: { currencyCode: "USD", amountMinor: 1299 },
        }),
        { subject: orderId },
      ),
    );
    return orderId;
  }

  test("CreateSubscription refuses private addresses, plain http and empty events", async () => {
    await assert.rejects(
      h.client.createSubscription(
        {
          subscription: {
            subscriptionId: "",
            clientId: "",
            url: "https://localhost:1/hook",
            events: [1],
            description: "",
          },
        },
        { metadata: partner },
      ),
      rejects("INVALID_ARGUMENT", "Webhook URL must not point to a private network address"),
    );
    await assert.rejects(
      h.client.createSubscription(
        {
          subscription: {
            subscriptionId: "",
            clientId: "",
            url: "http://93.184.216.34/hook",
            events: [1],
            description: "",
          },
        },
        { metadata: partner },
      ),
      rejects("INVALID_ARGUMENT", "Webhook URL must use https://"),
    );
    await assert.rejects(
      h.client.createSubscription(
        {
          subscription: { subscriptionId: "", clientId: "", url: `${receiver.origin}/x`, events: [], description: "" },
        },
        { metadata: partner },
      ),
      rejects("INVALID_ARGUMENT", "subscription.events must name at least one event"),
    );
    await assert.rejects(h.client.listSubscriptions({ pageSize: 0, pageToken: "" }), rejects("UNAUTHENTICATED"));
  });

  test("an order event is delivered signed, retried after a 500, and logged", async () => {
    const { subscription, signingSecret } = await subscribe("/retry");
    assert.match(signingSecret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    receiver.script("/retry", [500]);
    const orderId = await placeOrder("cli_partner");
    const attempts = await until("two attempts", () => {
      const got = receiver.received.filter((r) => r.path === "/retry");
      return got.length >= 2 ? got : undefined;
    });
    for (const attempt of attempts) {
      assert.equal(attempt.signatureValid, true, "the signature verifies with the subscription's secret");
      assert.equal(attempt.headers["webhook-event"], "order.placed");
    }
    assert.equal(
      attempts[0]?.headers["webhook-id"],
      attempts[1]?.headers["webhook-id"],
      "the same event id on a retry",
    );
    assert.equal(attempts[0]?.body, attempts[1]?.body);
    const body = JSON.parse(attempts[0]?.body ?? "{}") as { type: string; data: { orderId: string; total: unknown } };
    assert.equal(body.type, "order.placed");
    assert.equal(body.data.orderId, orderId);
    assert.deepEqual(body.data.total, { currencyCode: "USD", amountMinor: "1299" }, "canonical proto3 JSON");
    const delivery = await until("the log to say SUCCEEDED", async () => {
      const { deliveries } = await h.client.listDeliveries(
        { subscriptionId: subscription?.subscriptionId ?? "", pageSize: 0, pageToken: "" },
        { metadata: partner },
      );
      return deliveries[0]?.state === webhooksV1.Delivery_State.STATE_SUCCEEDED ? deliveries[0] : undefined;
    });
    assert.equal(delivery.attemptCount, 2);
    assert.equal(delivery.lastStatusCode, 200);
    assert.equal(delivery.orderId, orderId);
  });

  test("events of other owners' orders are not delivered", async () => {
    await subscribe("/own-only");
    await placeOrder("cli_someone_else");
    const mine = await placeOrder("cli_partner");
    await until("the partner's own order", () =>
      receiver.received.find((r) => r.path === "/own-only" && r.body.includes(mine)),
    );
    assert.equal(receiver.received.filter((r) => r.path === "/own-only").length, 1);
  });

  test("a target that resolves to a refused address at delivery time gets nothing", async () => {
    // As if its DNS changed after the subscription was checked: "localhost" is not allowed.
    const port = new URL(receiver.origin).port;
    const id = randomUUID();
    await h.db
      .insertInto("subscriptions")
      .values({
        id,
        client_id: "cli_partner",
        url: `http://localhost:${port}/rebound`,
        events: ["order.placed"],
        description: "",
        signing_secret: newSigningSecret(),
      })
      .execute();
    await placeOrder("cli_partner");
    const delivery = await until("the refused delivery", async () => {
      const { deliveries } = await h.client.listDeliveries(
        { subscriptionId: id, pageSize: 0, pageToken: "" },
        { metadata: partner },
      );
      return deliveries[0]?.state === webhooksV1.Delivery_State.STATE_FAILED ? deliveries[0] : undefined;
    });
    assert.equal(delivery.lastError, "Webhook URL must use https://");
    assert.equal(receiver.received.filter((r) => r.path === "/rebound").length, 0);
    // https to a private address: refused for the address itself.
    const secure = randomUUID();
    await h.db
      .insertInto("subscriptions")
      .values({
        id: secure,
        client_id: "cli_partner",
        url: `https://localhost:${port}/rebound`,
        events: ["order.placed"],
        description: "",
        signing_secret: newSigningSecret(),
      })
      .execute();
    await placeOrder("cli_partner");
    const refused = await until("the refused https delivery", async () => {
      const { deliveries } = await h.client.listDeliveries(
        { subscriptionId: secure, pageSize: 0, pageToken: "" },
        { metadata: partner },
      );
      return deliveries[0]?.state === webhooksV1.Delivery_State.STATE_FAILED ? deliveries[0] : undefined;
    });
    assert.equal(refused.lastError, "address not allowed");
    assert.equal(refused.attemptCount, 1, "no retries for a refused address");
  });

  test("Redeliver sends the same event again; other clients cannot see or touch the subscription", async () => {
    const { subscription } = await subscribe("/redeliver");
    const subscriptionId = subscription?.subscriptionId ?? "";
    await placeOrder("cli_partner");
    const first = await until("the first delivery", () => receiver.received.find((r) => r.path === "/redeliver"));
    const { deliveries } = await h.client.listDeliveries(
      { subscriptionId, pageSize: 0, pageToken: "" },
      { metadata: partner },
    );
    const deliveryId = deliveries[0]?.deliveryId ?? "";
    await assert.rejects(
      h.client.redeliver({ subscriptionId, deliveryId }, { metadata: other }),
      rejects("NOT_FOUND", "Subscription not found"),
    );
    await assert.rejects(
      h.client.listDeliveries({ subscriptionId, pageSize: 0, pageToken: "" }, { metadata: other }),
      rejects("NOT_FOUND", "Subscription not found"),
    );
    const { subscriptions } = await h.client.listSubscriptions({ pageSize: 0, pageToken: "" }, { metadata: other });
    assert.equal(subscriptions.length, 0);
    const { delivery } = await h.client.redeliver({ subscriptionId, deliveryId }, { metadata: partner });
    assert.equal(delivery?.state, webhooksV1.Delivery_State.STATE_PENDING);
    assert.notEqual(delivery?.deliveryId, deliveryId);
    const again = await until("the redelivery", () => {
      const got = receiver.received.filter((r) => r.path === "/redeliver");
      return got.length >= 2 ? got[1] : undefined;
    });
    assert.equal(again.headers["webhook-id"], first.headers["webhook-id"]);
    assert.equal(again.signatureValid, true);
    await assert.rejects(h.client.deleteSubscription({ subscriptionId }, { metadata: other }), rejects("NOT_FOUND"));
    await h.client.deleteSubscription({ subscriptionId }, { metadata: partner });
    const after = await h.client.listSubscriptions({ pageSize: 0, pageToken: "" }, { metadata: partner });
    assert.ok(!after.subscriptions.some((s) => s.subscriptionId === subscriptionId));
  });

  test("page tokens page through subscriptions; a foreign token is refused", async () => {
    const mine = await h.asClient("cli_pager");
    for (let i = 0; i < 3; i++) await subscribe(`/page-${i}`, [WebhookEvent.WEBHOOK_EVENT_ORDER_SHIPPED], mine);
    const first = await h.client.listSubscriptions({ pageSize: 2, pageToken: "" }, { metadata: mine });
    assert.equal(first.subscriptions.length, 2);
    const second = await h.client.listSubscriptions(
      { pageSize: 2, pageToken: first.nextPageToken },
      { metadata: mine },
    );
    assert.equal(second.subscriptions.length, 1);
    assert.equal(second.nextPageToken, "");
    assert.deepEqual(second.subscriptions[0]?.events, [WebhookEvent.WEBHOOK_EVENT_ORDER_SHIPPED]);
    await assert.rejects(
      h.client.listSubscriptions({ pageSize: 2, pageToken: "bogus" }, { metadata: mine }),
      rejects("INVALID_ARGUMENT", "Invalid page token"),
    );
  });
});
