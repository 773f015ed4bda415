import { randomUUID } from "node:crypto";
import { cartV1, ordersV1, paymentsV1 } from "@obfy/protos";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { formFailure, grpcCode } from "../calls.js";
import { type FormBody, field } from "../forms.js";
import { pageContext, type RouteContext, sendError } from "../page.js";
import { asShopper, CART_COOKIE, type Shopper } from "../session.js";
import { openEventStream } from "../sse.js";
import { formatMoney, formatTime, sendPage } from "../views.js";

const { OrderStatus } = ordersV1;

/** What the order page calls each status. */
export const STATUS_LABELS: Readonly<Record<number, string>> = {
  [OrderStatus.ORDER_STATUS_PENDING]: "Processing",
  [OrderStatus.ORDER_STATUS_CONFIRMED]: "Confirmed",
  [OrderStatus.ORDER_STATUS_SHIPPED]: "Shipped",
  [OrderStatus.ORDER_STATUS_DELIVERED]: "Delivered",
  [OrderStatus.ORDER_STATUS_CANCELLED]: "Cancelled",
  [OrderStatus.ORDER_STATUS_REFUNDED]: "Refunded",
};

const FINAL = new Set<number>([
  OrderStatus.ORDER_STATUS_DELIVERED,
  OrderStatus.ORDER_STATUS_CANCELLED,
  OrderStatus.ORDER_STATUS_REFUNDED,
]);

/** An order as the pages show it. */
export function orderView(order: ordersV1.Order) {
  return {
    orderId: order.orderId,
    shortId: order.orderId.slice(0, 8),
    ownerId: order.ownerId,
    email: order.customerEmail,
    status: STATUS_LABELS[order.status] ?? "Unknown",
    statusCode: order.status,
    final: FINAL.has(order.status),
    reason: order.status === OrderStatus.ORDER_STATUS_CANCELLED ? order.cancelReason : "",
    total: formatMoney(order.total),
    created: formatTime(order.createTime),
    card: order.payment?.cardLast4 ? `${order.payment.cardBrand || "card"} ending ${order.payment.cardLast4}` : "",
    lines: order.lines.map((line) => ({
      bookId: line.bookId,
      title: line.title,
      quantity: line.quantity,
      total: formatMoney(line.lineTotal),
    })),
    history: order.history.map((step) => ({
      status: STATUS_LABELS[step.status] ?? "",
      time: formatTime(step.time),
      note: step.note,
    })),
  };
}

const CARD_FIELDS: Readonly<Record<string, string>> = {
  number: "card_number",
  "card.number": "card_number",
  exp_month: "expiry",
  exp_year: "expiry",
  "card.exp_month": "expiry",
  "card.exp_year": "expiry",
  cvc: "cvc",
  "card.cvc": "cvc",
};
const ADDRESS_FIELDS = ["recipient_name", "address_line", "locality", "postal_code", "region_code"] as const;
const ORDER_FIELDS: Readonly<Record<string, string>> = Object.fromEntries(
  ADDRESS_FIELDS.map((name) => [`shipping_address.${name}`, name]),
);

/** Payment methods made for a checkout form, by its idempotency key, so a resubmitted form places the same order. */
class RecentPaymentMethods {
  readonly #entries = new Map<string, { id: string; at: number }>();
  get(key: string): string | undefined {
    return this.#entries.get(key)?.id;
  }
  set(key: string, id: string): void {
    const now = Date.now();
    for (const [k, entry] of this.#entries)
      if (now - entry.at > 15 * 60_000 || this.#entries.size > 10_000) this.#entries.delete(k);
    this.#entries.set(key, { id, at: now });
  }
}

/** Checks the checkout form; the services check again (Luhn, expiry) and their messages go next to the fields. */
function checkCheckout(form: Record<string, string>): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [name, label] of [
    ["recipient_name", "your full name"],
    ["address_line", "the street address"],
    ["locality", "the town or city"],
    ["postal_code", "the postal code"],
    ["region_code", "the country code"],
  ] as const) {
    if ((form[name] ?? "").trim() === "") errors[name] = `Enter ${label}.`;
  }
  const digits = (form.card_number ?? "").replace(/[\s-]/g, "");
  if (!/^\d{12,19}$/.test(digits)) errors.card_number = "Enter the 12 to 19 digits of your card number.";
  if (!/^(0?[1-9]|1[0-2])\s*\/\s*(\d{2}|\d{4})$/.test((form.expiry ?? "").trim())) {
    errors.expiry = "Enter the expiry as MM/YY, e.g. 12/30.";
  }
  if (!/^\d{3,4}$/.test((form.cvc ?? "").trim())) errors.cvc = "Enter the 3 or 4 digits on the back of your card.";
  return errors;
}

/** Cart, checkout, the order list and the live order page. */
export function registerOrderRoutes(app: FastifyInstance, context: RouteContext): void {
  const { store, timeoutMs } = context;
  const csrf = { preHandler: app.csrfProtection.bind(app) };
  const paymentMethods = new RecentPaymentMethods();

  /** Which cart: the shopper's own, or the visitor's anonymous one (its id in a cookie, made when `create`). */
  const cartRef = (request: FastifyRequest, reply: FastifyReply, create: boolean) => {
    if (request.shopper !== undefined)
      return { ref: cartV1.CartRef.fromPartial({}), metadata: asShopper(request.shopper) };
    const raw = request.cookies[CART_COOKIE];
    const unsigned = raw === undefined ? undefined : request.unsignCookie(raw);
    let id = unsigned?.valid === true && unsigned.value !== null ? unsigned.value : undefined;
    if (id === undefined && create) {
      id = randomUUID();
      reply.setCookie(CART_COOKIE, id, {
        path: "/",
        httpOnly: true,
        sameSite: "lax",
        secure: context.secureCookies,
        signed: true,
        maxAge: 30 * 24 * 3600,
      });
    }
    return id === undefined ? undefined : { ref: cartV1.CartRef.fromPartial({ anonymousCartId: id }), metadata: {} };
  };

  const cartView = (cart: cartV1.Cart | undefined) => ({
    lines: (cart?.lines ?? []).map((line, index) => ({
      index,
      bookId: line.bookId,
      title: line.title || "A book no longer in the catalogue",
      quantity: line.quantity,
      price: formatMoney(line.unitPrice),
      addedPrice: formatMoney(line.addedUnitPrice),
      priceChanged: line.priceChanged,
      total: formatMoney(line.lineTotal),
      available: line.available,
      stockShort: line.stockShort,
      unavailable: line.unavailable,
    })),
    subtotal: formatMoney(cart?.subtotal),
    itemCount: cart?.itemCount ?? 0,
    maxQuantity: cart?.maxQuantityPerLine || 10,
  });

  const cartPage = async (request: FastifyRequest, reply: FastifyReply, error?: string, status = 200) => {
    const which = cartRef(request, reply, false);
    let cart: cartV1.Cart | undefined;
    let notice = "";
    if (which !== undefined) {
      try {
        cart = (
          await store.cart.getCart(cartV1.GetCartRequest.fromPartial({ cart: which.ref }), {
            timeoutMs,
            metadata: which.metadata,
          })
        ).cart;
      } catch (failure) {
        request.log.warn({ err: failure }, "cart unavailable");
        notice = "Your cart is unavailable right now. Please try again in a moment.";
        status = status === 200 ? 503 : status;
      }
    }
    return sendPage(
      reply,
      "./cart",
      "Your cart",
      pageContext(request, reply),
      { ...cartView(cart), notice, error: error ?? "" },
      status,
    );
  };

  app.get("/cart", async (request, reply) => cartPage(request, reply));

  const cartChange =
    (
      change: (
        request: FastifyRequest<{ Params: { bookId?: string }; Body: FormBody }>,
        ref: cartV1.CartRef,
        metadata: Record<string, string>,
      ) => Promise<unknown>,
    ) =>
    async (request: FastifyRequest<{ Params: { bookId?: string }; Body: FormBody }>, reply: FastifyReply) => {
      const which = cartRef(request, reply, true);
      if (which === undefined) return cartPage(request, reply);
      try {
        await change(request, which.ref, which.metadata);
        return reply.redirect("/cart", 303);
      } catch (error) {
        const failure = formFailure(error);
        if (failure.unavailable) request.log.warn({ err: error }, "cart change failed");
        return cartPage(request, reply, failure.message, failure.unavailable ? 503 : 400);
      }
    };
  const quantityOf = (body: FormBody, fallback: number) => {
    const text = field(body, "quantity").trim();
    return text === "" ? fallback : /^\d{1,3}$/.test(text) ? Number(text) : -1;
  };

  app.post<{ Params: { bookId?: string }; Body: FormBody }>(
    "/cart/lines",
    csrf,
    cartChange((request, ref, metadata) => {
      const quantity = quantityOf(request.body, 1);
      return store.cart.addCartLine(
        cartV1.AddCartLineRequest.fromPartial({ cart: ref, bookId: field(request.body, "book_id"), quantity }),
        { metadata },
      );
    }),
  );
  app.post<{ Params: { bookId: string }; Body: FormBody }>(
    "/cart/lines/:bookId",
    csrf,
    cartChange((request, ref, metadata) =>
      store.cart.updateCartLine(
        cartV1.UpdateCartLineRequest.fromPartial({
          cart: ref,
          bookId: request.params.bookId ?? "",
          quantity: quantityOf(request.body, 1),
        }),
        { metadata },
      ),
    ),
  );
  app.post<{ Params: { bookId: string }; Body: FormBody }>(
    "/cart/lines/:bookId/remove",
    csrf,
    cartChange((request, ref, metadata) =>
      store.cart.removeCartLine(
        cartV1.RemoveCartLineRequest.fromPartial({ cart: ref, bookId: request.params.bookId ?? "" }),
        { metadata },
      ),
    ),
  );

  const signInFirst = (reply: FastifyReply, returnTo: string) =>
    reply.redirect(`/account/sign-in?${new URLSearchParams({ return_to: returnTo })}`, 303);

  const checkoutPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    shopper: Shopper,
    form: Record<string, string>,
    errors: Record<string, string>,
    error: string,
    status: number,
  ) => {
    let cart: cartV1.Cart | undefined;
    try {
      cart = (
        await store.cart.getCart(cartV1.GetCartRequest.fromPartial({ cart: {} }), {
          timeoutMs,
          metadata: asShopper(shopper),
        })
      ).cart;
    } catch (failure) {
      request.log.warn({ err: failure }, "cart unavailable at checkout");
      return sendPage(
        reply,
        "./checkout",
        "Checkout",
        pageContext(request, reply),
        { notice: "Checkout is unavailable right now. Please try again in a moment.", error: "" },
        503,
      );
    }
    if (cart === undefined || cart.lines.length === 0) return reply.redirect("/cart", 303);
    return sendPage(
      reply,
      "./checkout",
      "Checkout",
      pageContext(request, reply),
      {
        ...cartView(cart),
        idempotencyKey: form.idempotency_key || randomUUID(),
        expectedTotal: String(cart.subtotal?.amountMinor ?? 0),
        form,
        errors,
        error,
        notice: "",
      },
      status,
    );
  };

  app.get("/checkout", async (request, reply) => {
    const shopper = request.shopper;
    if (shopper === undefined) return signInFirst(reply, "/checkout");
    return checkoutPage(request, reply, shopper, {}, {}, "", 200);
  });

  app.post<{ Body: FormBody }>("/checkout", csrf, async (request, reply) => {
    const shopper = request.shopper;
    if (shopper === undefined) return signInFirst(reply, "/checkout");
    const form: Record<string, string> = {};
    for (const name of ["idempotency_key", "expected_total", "card_number", "expiry", "cvc", ...ADDRESS_FIELDS]) {
      form[name] = field(request.body, name);
    }
    // The card number and code are never shown again or logged.
    const redisplay = { ...form, cvc: "" };
    const errors = checkCheckout(form);
    const key = form.idempotency_key ?? "";
    if (!/^[0-9a-f-]{36}$/.test(key))
      return checkoutPage(
        request,
        reply,
        shopper,
        {},
        {},
        "This checkout form has expired. Please check your order and place it again.",
        400,
      );
    if (Object.keys(errors).length > 0) {
      return checkoutPage(request, reply, shopper, redisplay, errors, "Please correct the form.", 400);
    }
    const metadata = asShopper(shopper);
    try {
      const cart = (await store.cart.getCart(cartV1.GetCartRequest.fromPartial({ cart: {} }), { timeoutMs, metadata }))
        .cart;
      if (cart === undefined || cart.lines.length === 0) return reply.redirect("/cart", 303);
      let paymentMethodId = paymentMethods.get(key);
      if (paymentMethodId === undefined) {
        const [month = "0", year = "0"] = (form.expiry ?? "").split("/").map((s) => s.trim());
        const fullYear = year.length === 2 ? 2000 + Number(year) : Number(year);
        const created = await store.payments.createPaymentMethod(
          paymentsV1.CreatePaymentMethodRequest.fromPartial({
            card: {
              number: form.card_number ?? "",
              expMonth: Number(month),
              expYear: fullYear,
              cvc: (form.cvc ?? "").trim(),
            },
          }),
          { metadata },
        );
        paymentMethodId = created.paymentMethod?.paymentMethodId ?? "";
        paymentMethods.set(key, paymentMethodId);
      }
      const placed = await store.orders.placeOrder(
        ordersV1.PlaceOrderRequest.fromPartial({
          idempotencyKey: key,
          lines: cart.lines.filter((l) => !l.unavailable).map((l) => ({ bookId: l.bookId, quantity: l.quantity })),
          paymentMethodId,
          shippingAddress: {
            recipientName: form.recipient_name?.trim() ?? "",
            addressLine: form.address_line?.trim() ?? "",
            locality: form.locality?.trim() ?? "",
            postalCode: form.postal_code?.trim() ?? "",
            regionCode: form.region_code?.trim().toUpperCase() ?? "",
          },
          ...(/^\d+$/.test(form.expected_total ?? "")
            ? {
                expectedTotal: {
                  currencyCode: cart.subtotal?.currencyCode || "USD",
                  amountMinor: Number(form.expected_total),
                },
              }
            : {}),
        }),
        { metadata },
      );
      const orderId = placed.order?.orderId ?? "";
      request.log.info({ order_id: orderId, account_id: shopper.accountId }, "order placed");
      return reply.redirect(`/orders/${encodeURIComponent(orderId)}`, 303);
    } catch (error) {
      const failure = formFailure(error, { ...CARD_FIELDS, ...ORDER_FIELDS });
      if (failure.unavailable) request.log.warn({ err: error }, "checkout failed");
      const fields = { ...failure.fields };
      if (/card|security code/i.test(failure.message) && Object.keys(fields).length === 0) {
        if (/expired/i.test(failure.message)) fields.expiry = failure.message;
        else if (/security code/i.test(failure.message)) fields.cvc = failure.message;
        else fields.card_number = failure.message;
      }
      return checkoutPage(request, reply, shopper, redisplay, fields, failure.message, failure.unavailable ? 503 : 400);
    }
  });

  app.get<{ Querystring: { page_token?: string } }>("/orders", async (request, reply) => {
    const shopper = request.shopper;
    if (shopper === undefined) return signInFirst(reply, "/orders");
    const pageToken = typeof request.query.page_token === "string" ? request.query.page_token : "";
    try {
      const response = await store.orders.listOrders(
        ordersV1.ListOrdersRequest.fromPartial({ pageSize: 20, pageToken }),
        {
          timeoutMs,
          metadata: asShopper(shopper),
        },
      );
      const nextUrl =
        response.nextPageToken === "" ? "" : `/orders?${new URLSearchParams({ page_token: response.nextPageToken })}`;
      return sendPage(reply, "./orders", "Your orders", pageContext(request, reply), {
        orders: response.orders.map(orderView),
        nextUrl,
        notice: "",
      });
    } catch (error) {
      if (grpcCode(error) === "INVALID_ARGUMENT")
        return sendError(request, reply, 400, "Bad request", "This page link is not valid.");
      request.log.warn({ err: error }, "orders unavailable");
      return sendPage(
        reply,
        "./orders",
        "Your orders",
        pageContext(request, reply),
        { orders: [], notice: "Your orders are unavailable right now. Please try again in a moment." },
        503,
      );
    }
  });

  app.get<{ Params: { id: string } }>("/orders/:id", async (request, reply) => {
    const shopper = request.shopper;
    if (shopper === undefined) return signInFirst(reply, `/orders/${request.params.id}`);
    try {
      const { order } = await store.orders.getOrder(
        ordersV1.GetOrderRequest.fromPartial({ orderId: request.params.id }),
        {
          timeoutMs,
          metadata: asShopper(shopper),
        },
      );
      if (order === undefined) throw new Error("Orders answered without an order");
      return sendPage(reply, "./order", `Order ${order.orderId.slice(0, 8)}`, pageContext(request, reply), {
        order: orderView(order),
      });
    } catch (error) {
      const code = grpcCode(error);
      if (code === "NOT_FOUND" || code === "INVALID_ARGUMENT")
        return sendError(request, reply, 404, "Order not found", "You have no order with this number.");
      request.log.warn({ err: error }, "order unavailable");
      return sendError(
        request,
        reply,
        503,
        "Orders are unavailable",
        "This order cannot be shown right now. Please try again in a moment.",
      );
    }
  });

  // The order page's live status: WatchOrder, relayed as server-sent events until a final status.
  app.get<{ Params: { id: string } }>("/orders/:id/events", async (request, reply) => {
    const shopper = request.shopper;
    if (shopper === undefined) return reply.code(401).type("text/plain").send("Sign in to follow this order.");
    const stream = openEventStream(request, reply, context.closing);
    try {
      for await (const change of store.orders.watchOrder(
        ordersV1.WatchOrderRequest.fromPartial({ orderId: request.params.id }),
        {
          timeoutMs: Number.POSITIVE_INFINITY,
          signal: stream.signal,
          metadata: asShopper(shopper),
        },
      )) {
        if (change.order === undefined) continue;
        const view = orderView(change.order);
        stream.send("order", { status: view.status, reason: view.reason, final: view.final });
        if (view.final) {
          stream.send("end", {});
          break;
        }
      }
    } catch (error) {
      if (!stream.signal.aborted) request.log.warn({ err: error }, "order stream ended");
    } finally {
      stream.end();
    }
  });
}
