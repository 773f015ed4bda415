import { randomUUID } from "node:crypto";
import { CLIENT_SCOPES } from "@obfy/kit/security";
import { catalogV1, clientsV1, deadLettersV1, inventoryV1, notificationsV1, ordersV1, webhooksV1 } from "@obfy/protos";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { failureFields, formFailure, grpcCode, section } from "../calls.js";
import { type FormBody, field } from "../forms.js";
import { pageContext, type RouteContext, sendError } from "../page.js";
import { asShopper, type Shopper } from "../session.js";
import { DEAD_LETTER_SERVICES, type StoreServiceName } from "../store.js";
import { formatMoney, formatTime, sendPage } from "../views.js";
import { orderView, STATUS_LABELS } from "./orders.js";

const { OrderStatus } = ordersV1;

/** Which actions an order in each status offers the back-office. */
const ORDER_ACTIONS: Readonly<Record<number, readonly { name: string; label: string; reason: boolean }[]>> = {
  [OrderStatus.ORDER_STATUS_PENDING]: [{ name: "cancel", label: "Cancel", reason: true }],
  [OrderStatus.ORDER_STATUS_CONFIRMED]: [
    { name: "ship", label: "Ship", reason: false },
    { name: "cancel", label: "Cancel", reason: true },
  ],
  [OrderStatus.ORDER_STATUS_SHIPPED]: [{ name: "deliver", label: "Mark delivered", reason: false }],
  [OrderStatus.ORDER_STATUS_DELIVERED]: [{ name: "refund", label: "Refund", reason: true }],
};

const MAIL_KINDS: Readonly<Record<number, string>> = {
  [notificationsV1.MailKind.MAIL_KIND_RECEIPT]: "Receipt",
  [notificationsV1.MailKind.MAIL_KIND_ORDER_CANCELLED]: "Order cancelled",
  [notificationsV1.MailKind.MAIL_KIND_ORDER_SHIPPED]: "Order shipped",
  [notificationsV1.MailKind.MAIL_KIND_ORDER_REFUNDED]: "Order refunded",
};
const MAIL_STATUSES: Readonly<Record<number, string>> = {
  [notificationsV1.MailStatus.MAIL_STATUS_QUEUED]: "Queued",
  [notificationsV1.MailStatus.MAIL_STATUS_SENT]: "Sent",
  [notificationsV1.MailStatus.MAIL_STATUS_FAILED]: "Failed",
};

/** What each scope lets a third-party client do, for the registration form. */
const SCOPE_HELP: Readonly<Record<string, string>> = {
  "cart:read": "read its carts",
  "cart:write": "change its carts",
  "orders:read": "read its orders",
  "orders:write": "place and cancel its orders",
  "payments:write": "pay for its orders",
  "reviews:write": "write reviews",
  "webhooks:manage": "subscribe webhooks and read their delivery log",
};

const WEBHOOK_EVENTS: Readonly<Record<number, string>> = {
  [webhooksV1.WebhookEvent.WEBHOOK_EVENT_ORDER_PLACED]: "order.placed",
  [webhooksV1.WebhookEvent.WEBHOOK_EVENT_ORDER_CONFIRMED]: "order.confirmed",
  [webhooksV1.WebhookEvent.WEBHOOK_EVENT_ORDER_CANCELLED]: "order.cancelled",
  [webhooksV1.WebhookEvent.WEBHOOK_EVENT_ORDER_SHIPPED]: "order.shipped",
};
const DELIVERY_STATES: Readonly<Record<number, string>> = {
  [webhooksV1.Delivery_State.STATE_PENDING]: "Pending",
  [webhooksV1.Delivery_State.STATE_SUCCEEDED]: "Succeeded",
  [webhooksV1.Delivery_State.STATE_FAILED]: "Failed",
};

/** Every value of a form field sent once or more (checkboxes). */
function all(body: FormBody, name: string): string[] {
  const value = body?.[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** A list a page shows, or what it shows in its place and with which HTTP status. */
type Listed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly notice: string; readonly status: number };

/**
 * Runs a page's list call. A request the service refused (a bad page token, an unknown
 * subscription: INVALID_ARGUMENT, NOT_FOUND) shows the service's documented message with 400 or
 * 404; a service that is down or slow shows a generic sentence with 503, and is logged.
 */
async function listed<T>(
  log: FastifyBaseLogger,
  what: string,
  service: string,
  call: () => Promise<T>,
): Promise<Listed<T>> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    const code = grpcCode(error);
    if (code === "NOT_FOUND" || code === "INVALID_ARGUMENT") {
      log.info(failureFields(error, what), "list refused");
      return { ok: false, notice: formFailure(error).message, status: code === "NOT_FOUND" ? 404 : 400 };
    }
    log.warn(failureFields(error, what), "list unavailable");
    return { ok: false, notice: `${service} is unavailable right now. Please try again in a moment.`, status: 503 };
  }
}

function one(value: unknown): string {
  return typeof value === "string" ? value : Array.isArray(value) && typeof value[0] === "string" ? value[0] : "";
}

/** "12.99" → 1299; undefined when it is not an amount. */
export function parsePrice(text: string): number | undefined {
  const match = /^\s*(\d{1,6})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * 100 + Number((match[2] ?? "0").padEnd(2, "0"));
}

/**
 * The back-office under `/admin`: orders, stock, catalogue, dead letters, the mailbox, the
 * public API's OAuth2 clients and its webhooks (subscriptions, delivery log, redeliver). Every
 * request is checked on the server: signed-out visitors are sent to sign in, shoppers get 403.
 * Every change is logged with who made it ("admin action"), and the services check the admin
 * token again themselves.
 */
export function registerAdminRoutes(app: FastifyInstance, context: RouteContext): void {
  const { store, timeoutMs } = context;
  const csrf = { preHandler: app.csrfProtection.bind(app) };

  void app.register(
    async (admin) => {
      admin.addHook("preHandler", async (request, reply) => {
        const shopper = request.shopper;
        if (shopper === undefined) {
          return reply.redirect(`/account/sign-in?${new URLSearchParams({ return_to: request.url })}`, 303);
        }
        if (shopper.role !== "admin") {
          request.log.warn({ account_id: shopper.accountId, path: request.url }, "back-office refused: not an admin");
          return sendError(request, reply, 403, "Forbidden", "Only administrators can use the back-office.");
        }
      });

      const adminOf = (request: FastifyRequest): Shopper => request.shopper as Shopper;
      const audit = (request: FastifyRequest, action: string, target: Record<string, unknown>, outcome: string) => {
        const who = adminOf(request);
        request.log.info(
          { admin_id: who.accountId, admin_email: who.email, action, ...target, outcome },
          "admin action",
        );
      };
      const back = (reply: FastifyReply, path: string, flash: string) =>
        reply.redirect(`${path}${path.includes("?") ? "&" : "?"}${new URLSearchParams({ flash })}`, 303);
      const flashOf = (request: FastifyRequest) => one((request.query as Record<string, unknown>)?.flash).slice(0, 200);
      const errorOf = (request: FastifyRequest) => one((request.query as Record<string, unknown>)?.error).slice(0, 300);

      /** Runs an admin change, logs it with the admin's identity, and goes back with a message. */
      const change =
        <P>(
          action: string,
          path: (request: FastifyRequest<{ Params: P; Body: FormBody }>) => string,
          run: (
            request: FastifyRequest<{ Params: P; Body: FormBody }>,
            metadata: Record<string, string>,
          ) => Promise<{ target: Record<string, unknown>; done: string }>,
        ) =>
        async (request: FastifyRequest<{ Params: P; Body: FormBody }>, reply: FastifyReply) => {
          const to = path(request);
          try {
            const { target, done } = await run(request, asShopper(adminOf(request)));
            audit(request, action, target, "ok");
            return back(reply, to, done);
          } catch (error) {
            const failure =
              error instanceof LocalError
                ? { message: error.message, fields: {}, unavailable: false }
                : formFailure(error);
            audit(request, action, { params: request.params }, `refused: ${grpcCode(error) ?? "error"}`);
            if (failure.unavailable) request.log.warn({ err: error }, "admin action failed");
            const message = Object.values(failure.fields)[0] ?? failure.message;
            return reply.redirect(
              `${to}${to.includes("?") ? "&" : "?"}${new URLSearchParams({ error: message })}`,
              303,
            );
          }
        };

      admin.get("/", async (request, reply) =>
        sendPage(reply, "./admin/index", "Back-office", pageContext(request, reply), {
          dashboardUrl: context.dashboardUrl ?? "",
          flash: flashOf(request),
          error: errorOf(request),
        }),
      );

      admin.get<{ Querystring: Record<string, unknown> }>("/orders", async (request, reply) => {
        const q = one(request.query.q).slice(0, 100);
        const status = one(request.query.status);
        const pageToken = one(request.query.page_token);
        const statusNumber = /^[1-6]$/.test(status) ? Number(status) : 0;
        const result = await section(request.log, "admin orders", () =>
          store.orders.listOrders(
            ordersV1.ListOrdersRequest.fromPartial({
              ownerId: "*",
              search: q,
              status: statusNumber,
              pageSize: 50,
              pageToken,
            }),
            { timeoutMs, metadata: asShopper(adminOf(request)) },
          ),
        );
        const orders = result.ok
          ? result.value.orders.map((order) => ({ ...orderView(order), actions: ORDER_ACTIONS[order.status] ?? [] }))
          : [];
        const nextUrl =
          result.ok && result.value.nextPageToken !== ""
            ? `/admin/orders?${new URLSearchParams({ q, status, page_token: result.value.nextPageToken })}`
            : "";
        return sendPage(reply, "./admin/orders", "Orders · Back-office", pageContext(request, reply), {
          q,
          status,
          statuses: Object.entries(STATUS_LABELS).map(([value, label]) => ({ value, label })),
          orders,
          nextUrl,
          notice: result.ok ? "" : result.notice,
          flash: flashOf(request),
          error: errorOf(request),
        });
      });

      const reasonOf = (body: FormBody) => field(body, "reason").trim().slice(0, 200);
      admin.post<{ Params: { id: string; action: string }; Body: FormBody }>(
        "/orders/:id/:action",
        csrf,
        change<{ id: string; action: string }>(
          "order",
          () => "/admin/orders",
          async (request, metadata) => {
            const orderId = request.params.id;
            const action = request.params.action;
            const reason = reasonOf(request.body);
            const options = { metadata };
            if (action === "ship")
              await store.orders.shipOrder(ordersV1.ShipOrderRequest.fromPartial({ orderId }), options);
            else if (action === "deliver")
              await store.orders.deliverOrder(ordersV1.DeliverOrderRequest.fromPartial({ orderId }), options);
            else if (action === "refund") {
              if (reason === "") throw new LocalError("Give a reason for the refund.");
              await store.orders.refundOrder(ordersV1.RefundOrderRequest.fromPartial({ orderId, reason }), options);
            } else if (action === "cancel") {
              if (reason === "") throw new LocalError("Give a reason for cancelling.");
              await store.orders.cancelOrder(ordersV1.CancelOrderRequest.fromPartial({ orderId, reason }), options);
            } else throw new LocalError("Unknown action.");
            return {
              target: { order_id: orderId, order_action: action, reason },
              done: `Order ${orderId.slice(0, 8)}: ${action} done.`,
            };
          },
        ),
      );

      admin.get<{ Querystring: Record<string, unknown> }>("/stock", async (request, reply) => {
        const max = one(request.query.max_available);
        const pageToken = one(request.query.page_token);
        const metadata = asShopper(adminOf(request));
        const result = await section(request.log, "admin stock", () =>
          store.inventory.listStock(
            inventoryV1.ListStockRequest.fromPartial({
              pageSize: 50,
              pageToken,
              ...(/^\d{1,6}$/.test(max) ? { maxAvailable: Number(max) } : {}),
            }),
            { timeoutMs, metadata },
          ),
        );
        const ids = result.ok ? result.value.stocks.map((s) => s.bookId) : [];
        const titles = new Map<string, string>();
        if (ids.length > 0) {
          const books = await section(request.log, "admin stock titles", () =>
            store.catalog.batchGetBooks(catalogV1.BatchGetBooksRequest.fromPartial({ bookIds: ids }), { timeoutMs }),
          );
          if (books.ok) for (const book of books.value.books) titles.set(book.bookId, book.title);
        }
        return sendPage(reply, "./admin/stock", "Stock · Back-office", pageContext(request, reply), {
          stocks: result.ok
            ? result.value.stocks.map((s, index) => ({
                index,
                bookId: s.bookId,
                title: titles.get(s.bookId) ?? `Book ${s.bookId}`,
                available: s.available,
                reserved: s.reserved,
                onHand: s.onHand,
                key: randomUUID(),
              }))
            : [],
          nextUrl:
            result.ok && result.value.nextPageToken !== ""
              ? `/admin/stock?${new URLSearchParams({ max_available: max, page_token: result.value.nextPageToken })}`
              : "",
          notice: result.ok ? "" : result.notice,
          flash: flashOf(request),
          error: errorOf(request),
        });
      });

      admin.post<{ Params: { bookId: string }; Body: FormBody }>(
        "/stock/:bookId/adjust",
        csrf,
        change<{ bookId: string }>(
          "stock adjust",
          () => "/admin/stock",
          async (request, metadata) => {
            const bookId = request.params.bookId;
            const deltaText = field(request.body, "delta").trim();
            const reason = reasonOf(request.body);
            if (!/^-?\d{1,6}$/.test(deltaText) || Number(deltaText) === 0)
              throw new LocalError("Give a change in stock, like 5 or -2.");
            if (reason === "") throw new LocalError("Give a reason for the change.");
            const response = await store.inventory.adjustStock(
              inventoryV1.AdjustStockRequest.fromPartial({
                bookId,
                delta: Number(deltaText),
                reason,
                idempotencyKey: field(request.body, "idempotency_key") || randomUUID(),
              }),
              { metadata },
            );
            return {
              target: { book_id: bookId, delta: Number(deltaText), reason },
              done: `Stock of book ${bookId} is now ${response.stock?.onHand ?? "?"} on hand.`,
            };
          },
        ),
      );

      admin.get<{ Querystring: Record<string, unknown> }>("/books", async (request, reply) => {
        const q = one(request.query.q).trim().slice(0, 200);
        const pageToken = one(request.query.page_token);
        const result = await section(request.log, "admin books", async () => {
          if (q === "") {
            const listed = await store.catalog.listBooks(
              catalogV1.ListBooksRequest.fromPartial({ pageSize: 50, pageToken }),
              { timeoutMs },
            );
            return { books: listed.books, next: listed.nextPageToken };
          }
          const found = await store.catalog.searchBooks(
            catalogV1.SearchBooksRequest.fromPartial({ query: q, pageSize: 50, pageToken }),
            { timeoutMs },
          );
          return {
            books: found.results.flatMap((r) => (r.book === undefined ? [] : [r.book])),
            next: found.nextPageToken,
          };
        });
        return sendPage(reply, "./admin/books", "Catalogue · Back-office", pageContext(request, reply), {
          q,
          books: result.ok
            ? result.value.books.map((b) => ({
                bookId: b.bookId,
                title: b.title,
                authors: b.authors,
                price: formatMoney(b.price),
              }))
            : [],
          nextUrl:
            result.ok && result.value.next !== ""
              ? `/admin/books?${new URLSearchParams({ q, page_token: result.value.next })}`
              : "",
          notice: result.ok ? "" : result.notice,
          flash: flashOf(request),
          error: errorOf(request),
        });
      });

      const bookEditPage = async (
        request: FastifyRequest<{ Params: { id: string } }>,
        reply: FastifyReply,
        form: Record<string, string> | undefined,
        errors: Record<string, string>,
        error: string,
        status: number,
      ) => {
        let book: catalogV1.Book | undefined;
        try {
          book = (
            await store.catalog.getBook(catalogV1.GetBookRequest.fromPartial({ bookId: request.params.id }), {
              timeoutMs,
            })
          ).book;
        } catch (failure) {
          if (grpcCode(failure) === "NOT_FOUND")
            return sendError(request, reply, 404, "Book not found", "There is no such book.");
          request.log.warn({ err: failure }, "catalogue unavailable");
          return sendError(request, reply, 503, "The catalogue is unavailable", "Please try again in a moment.");
        }
        if (book === undefined) return sendError(request, reply, 404, "Book not found", "There is no such book.");
        const current = {
          title: book.title,
          authors: book.authors.join("\n"),
          price: ((book.price?.amountMinor ?? 0) / 100).toFixed(2),
          description: book.description,
        };
        return sendPage(
          reply,
          "./admin/book-edit",
          `Edit ${book.title}`,
          pageContext(request, reply),
          {
            book: { bookId: book.bookId, title: book.title, etag: book.etag },
            form: form ?? current,
            errors,
            flash: flashOf(request),
            error: error || errorOf(request),
          },
          status,
        );
      };
      admin.get<{ Params: { id: string } }>("/books/:id", async (request, reply) =>
        bookEditPage(request, reply, undefined, {}, "", 200),
      );

      admin.post<{ Params: { id: string }; Body: FormBody }>("/books/:id", csrf, async (request, reply) => {
        const bookId = request.params.id;
        const form = {
          title: field(request.body, "title").trim(),
          authors: field(request.body, "authors"),
          price: field(request.body, "price").trim(),
          description: field(request.body, "description"),
        };
        const authors = form.authors
          .split(/\r?\n/)
          .map((a) => a.trim())
          .filter((a) => a !== "");
        const errors: Record<string, string> = {};
        if (form.title === "" || form.title.length > 300) errors.title = "Give a title of 1 to 300 characters.";
        if (authors.length === 0 || authors.length > 10) errors.authors = "Give one to 10 authors, one per line.";
        const amountMinor = parsePrice(form.price);
        if (amountMinor === undefined || amountMinor < 1 || amountMinor > 10_000_000)
          errors.price = "Give a price like 12.99 (at most 100000.00).";
        if (form.description.length > 5000)
          errors.description = "The description is too long (at most 5000 characters).";
        if (Object.keys(errors).length > 0)
          return bookEditPage(request, reply, form, errors, "Please correct the form.", 400);
        try {
          await store.catalog.updateBook(
            catalogV1.UpdateBookRequest.fromPartial({
              book: {
                bookId,
                title: form.title,
                authors,
                description: form.description,
                price: { currencyCode: "USD", amountMinor: amountMinor ?? 0 },
                etag: field(request.body, "etag"),
              },
              updateMask: ["title", "authors", "description", "price"],
            }),
            { metadata: asShopper(adminOf(request)) },
          );
          audit(request, "book update", { book_id: bookId, title: form.title, price_minor: amountMinor }, "ok");
          return back(reply, `/admin/books/${encodeURIComponent(bookId)}`, "Book saved.");
        } catch (error) {
          audit(request, "book update", { book_id: bookId }, `refused: ${grpcCode(error) ?? "error"}`);
          const failure = formFailure(error, {
            "book.title": "title",
            "book.authors": "authors",
            "book.price": "price",
            "book.description": "description",
          });
          if (failure.unavailable) request.log.warn({ err: error }, "book not saved");
          return bookEditPage(request, reply, form, failure.fields, failure.message, failure.unavailable ? 503 : 400);
        }
      });

      admin.get("/dead-letters", async (request, reply) => {
        const metadata = asShopper(adminOf(request));
        const services = await Promise.all(
          DEAD_LETTER_SERVICES.map(async (name) => {
            const client = store.deadLetters[name];
            if (client === undefined) return { name, notice: "Not configured.", letters: [] };
            try {
              const response = await client.listDeadLetters(
                deadLettersV1.ListDeadLettersRequest.fromPartial({ pageSize: 100 }),
                { timeoutMs, metadata },
              );
              return {
                name,
                notice: "",
                letters: response.deadLetters.map((d) => ({
                  id: d.deadLetterId,
                  queue: d.queue,
                  eventType: d.eventType,
                  eventId: d.eventId,
                  subject: d.subject,
                  attempts: d.attemptCount,
                  lastError: d.lastError,
                  time: formatTime(d.deadLetterTime),
                })),
              };
            } catch (error) {
              const code = grpcCode(error);
              if (code !== "UNIMPLEMENTED") request.log.warn({ err: error, service: name }, "dead letters unavailable");
              return {
                name,
                notice: code === "UNIMPLEMENTED" ? "This service has no queues." : "Unavailable right now.",
                letters: [],
              };
            }
          }),
        );
        return sendPage(reply, "./admin/dead-letters", "Dead letters · Back-office", pageContext(request, reply), {
          services,
          flash: flashOf(request),
          error: errorOf(request),
        });
      });

      admin.post<{ Params: { service: string; id: string; action: string }; Body: FormBody }>(
        "/dead-letters/:service/:id/:action",
        csrf,
        change<{ service: string; id: string; action: string }>(
          "dead letter",
          () => "/admin/dead-letters",
          async (request, metadata) => {
            const { service, id, action } = request.params;
            const client = (DEAD_LETTER_SERVICES as readonly string[]).includes(service)
              ? store.deadLetters[service as StoreServiceName]
              : undefined;
            if (client === undefined) throw new LocalError("Unknown service.");
            if (action === "replay")
              await client.replayDeadLetter(deadLettersV1.ReplayDeadLetterRequest.fromPartial({ deadLetterId: id }), {
                metadata,
              });
            else if (action === "discard")
              await client.discardDeadLetter(deadLettersV1.DiscardDeadLetterRequest.fromPartial({ deadLetterId: id }), {
                metadata,
              });
            else throw new LocalError("Unknown action.");
            return {
              target: { service, dead_letter_id: id, dead_letter_action: action },
              done: `Dead letter ${action === "replay" ? "replayed" : "discarded"}.`,
            };
          },
        ),
      );

      admin.get<{ Querystring: Record<string, unknown> }>("/mail", async (request, reply) => {
        const to = one(request.query.to).trim().slice(0, 254);
        const pageToken = one(request.query.page_token);
        const result = await section(request.log, "mailbox", () =>
          store.notifications.listMail(notificationsV1.ListMailRequest.fromPartial({ to, pageSize: 50, pageToken }), {
            timeoutMs,
            metadata: asShopper(adminOf(request)),
          }),
        );
        return sendPage(reply, "./admin/mail", "Mailbox · Back-office", pageContext(request, reply), {
          to,
          mails: result.ok
            ? result.value.mails.map((m) => ({
                mailId: m.mailId,
                orderId: m.orderId,
                to: m.to,
                subject: m.subject,
                kind: MAIL_KINDS[m.kind] ?? "",
                status: MAIL_STATUSES[m.status] ?? "",
                created: formatTime(m.createTime),
              }))
            : [],
          nextUrl:
            result.ok && result.value.nextPageToken !== ""
              ? `/admin/mail?${new URLSearchParams({ to, page_token: result.value.nextPageToken })}`
              : "",
          notice: result.ok ? "" : result.notice,
        });
      });

      admin.get<{ Params: { id: string } }>("/mail/:id", async (request, reply) => {
        try {
          const { mail } = await store.notifications.getMail(
            notificationsV1.GetMailRequest.fromPartial({ mailId: request.params.id }),
            { timeoutMs, metadata: asShopper(adminOf(request)) },
          );
          if (mail === undefined) throw new Error("no mail");
          return sendPage(reply, "./admin/mail-item", mail.subject || "Mail", pageContext(request, reply), {
            mail: { ...mail, kind: MAIL_KINDS[mail.kind] ?? "", status: MAIL_STATUSES[mail.status] ?? "" },
          });
        } catch (error) {
          if (grpcCode(error) === "NOT_FOUND")
            return sendError(request, reply, 404, "Mail not found", "There is no such mail.");
          request.log.warn({ err: error }, "mailbox unavailable");
          return sendError(request, reply, 503, "The mailbox is unavailable", "Please try again in a moment.");
        }
      });

      // Third-party OAuth2 clients (Accounts' ClientsService): register, list, revoke.
      const scopeChoices = (chosen: readonly string[]) =>
        CLIENT_SCOPES.map((scope, index) => ({
          id: `scope-${index}`,
          value: scope,
          help: SCOPE_HELP[scope] ?? "",
          checked: chosen.includes(scope),
        }));
      const clientsPage = async (
        request: FastifyRequest,
        reply: FastifyReply,
        form: { displayName: string; scopes: readonly string[] },
        errors: Record<string, string>,
        error: string,
        status: number,
      ) => {
        const pageToken = one((request.query as Record<string, unknown>)?.page_token);
        const result = await listed(request.log, "admin clients", "Accounts", () =>
          store.clients.listClients(clientsV1.ListClientsRequest.fromPartial({ pageSize: 50, pageToken }), {
            timeoutMs,
            metadata: asShopper(adminOf(request)),
          }),
        );
        const clients = result.ok
          ? result.value.clients.map((c) => ({
              clientId: c.clientId,
              displayName: c.displayName,
              scopes: c.allowedScopes.join(", "),
              created: formatTime(c.createTime),
              revoked: formatTime(c.revokeTime),
            }))
          : [];
        return sendPage(
          reply,
          "./admin/clients",
          "API clients · Back-office",
          pageContext(request, reply),
          {
            active: clients.filter((c) => c.revoked === ""),
            revoked: clients.filter((c) => c.revoked !== ""),
            nextUrl:
              result.ok && result.value.nextPageToken !== ""
                ? `/admin/clients?${new URLSearchParams({ page_token: result.value.nextPageToken })}`
                : "",
            notice: result.ok ? "" : result.notice,
            form: { displayName: form.displayName, scopes: scopeChoices(form.scopes) },
            errors,
            flash: flashOf(request),
            error: error || errorOf(request),
          },
          status !== 200 ? status : result.ok ? 200 : result.status,
        );
      };

      admin.get("/clients", async (request, reply) =>
        clientsPage(request, reply, { displayName: "", scopes: [] }, {}, "", 200),
      );

      admin.post<{ Body: FormBody }>("/clients", csrf, async (request, reply) => {
        const displayName = field(request.body, "display_name").trim();
        const scopes = [...new Set(all(request.body, "scopes"))];
        const form = { displayName, scopes };
        const errors: Record<string, string> = {};
        if (displayName === "" || [...displayName].length > 100)
          errors.display_name = "Give the client a name of 1 to 100 characters.";
        if (scopes.length === 0) errors.scopes = "Choose at least one scope.";
        else if (scopes.some((scope) => !CLIENT_SCOPES.includes(scope))) errors.scopes = "Choose scopes from the list.";
        if (Object.keys(errors).length > 0) {
          return clientsPage(request, reply, form, errors, "Please correct the form.", 400);
        }
        let created: clientsV1.CreateClientResponse;
        try {
          created = await store.clients.createClient(
            clientsV1.CreateClientRequest.fromPartial({ client: { displayName, allowedScopes: scopes } }),
            { metadata: asShopper(adminOf(request)) },
          );
        } catch (error) {
          audit(
            request,
            "client create",
            { display_name: displayName, scopes },
            `refused: ${grpcCode(error) ?? "error"}`,
          );
          const failure = formFailure(error, {
            "client.display_name": "display_name",
            "client.allowed_scopes": "scopes",
          });
          if (failure.unavailable) request.log.warn({ err: error }, "client not registered");
          return clientsPage(request, reply, form, failure.fields, failure.message, failure.unavailable ? 503 : 400);
        }
        const client = created.client;
        // The secret is never logged, never put in a URL and never stored here: this response is the
        // only place it appears (sendPage sends it with Cache-Control: no-store).
        audit(
          request,
          "client create",
          { client_id: client?.clientId, display_name: client?.displayName, scopes: client?.allowedScopes },
          "ok",
        );
        return sendPage(
          reply,
          "./admin/client-created",
          "Client registered · Back-office",
          pageContext(request, reply),
          {
            client: {
              clientId: client?.clientId ?? "",
              displayName: client?.displayName ?? displayName,
              scopes: (client?.allowedScopes ?? scopes).join(", "),
            },
            secret: created.clientSecret,
          },
        );
      });

      admin.post<{ Params: { id: string }; Body: FormBody }>(
        "/clients/:id/revoke",
        csrf,
        change<{ id: string }>(
          "client revoke",
          () => "/admin/clients",
          async (request, metadata) => {
            const { client } = await store.clients.revokeClient(
              clientsV1.RevokeClientRequest.fromPartial({ clientId: request.params.id }),
              { metadata },
            );
            const name = client?.displayName ?? request.params.id;
            return {
              target: { client_id: request.params.id, display_name: name },
              done: `Client ${name} revoked: its secret no longer works, and its tokens expire within 5 minutes.`,
            };
          },
        ),
      );

      // Webhooks (the Webhooks service): every subscription, the delivery log, redeliver.
      admin.get<{ Querystring: Record<string, unknown> }>("/webhooks", async (request, reply) => {
        const subscription = one(request.query.subscription).trim().slice(0, 100);
        const pageToken = one(request.query.page_token);
        const subscriptionsPageToken = one(request.query.subscriptions_page_token);
        const options = { timeoutMs, metadata: asShopper(adminOf(request)) };
        const [subscriptions, deliveries, clients] = await Promise.all([
          listed(request.log, "admin webhook subscriptions", "Webhooks", () =>
            store.webhooks.listSubscriptions(
              webhooksV1.ListSubscriptionsRequest.fromPartial({ pageSize: 50, pageToken: subscriptionsPageToken }),
              options,
            ),
          ),
          listed(request.log, "admin webhook deliveries", "Webhooks", () =>
            store.webhooks.listDeliveries(
              webhooksV1.ListDeliveriesRequest.fromPartial({
                subscriptionId: subscription || "-",
                pageSize: 50,
                pageToken,
              }),
              options,
            ),
          ),
          // Only to name each subscription's client; without it the ids are shown.
          section(request.log, "admin webhook clients", () =>
            store.clients.listClients(clientsV1.ListClientsRequest.fromPartial({ pageSize: 100 }), options),
          ),
        ]);
        const names = new Map(clients.ok ? clients.value.clients.map((c) => [c.clientId, c.displayName]) : []);
        const urls = new Map(
          subscriptions.ok ? subscriptions.value.subscriptions.map((s) => [s.subscriptionId, s.url]) : [],
        );
        const status = !deliveries.ok ? deliveries.status : !subscriptions.ok ? subscriptions.status : 200;
        return sendPage(
          reply,
          "./admin/webhooks",
          "Webhooks · Back-office",
          pageContext(request, reply),
          {
            subscription,
            subscriptions: subscriptions.ok
              ? subscriptions.value.subscriptions.map((s) => ({
                  subscriptionId: s.subscriptionId,
                  client: names.get(s.clientId) ?? "",
                  clientId: s.clientId,
                  url: s.url,
                  events: s.events.map((e) => WEBHOOK_EVENTS[e] ?? "unknown").join(", "),
                  description: s.description,
                  created: formatTime(s.createTime),
                }))
              : [],
            subscriptionsNotice: subscriptions.ok ? "" : subscriptions.notice,
            subscriptionsNextUrl:
              subscriptions.ok && subscriptions.value.nextPageToken !== ""
                ? `/admin/webhooks?${new URLSearchParams({ subscriptions_page_token: subscriptions.value.nextPageToken })}`
                : "",
            deliveries: deliveries.ok
              ? deliveries.value.deliveries.map((d) => ({
                  deliveryId: d.deliveryId,
                  shortId: d.deliveryId.slice(0, 8),
                  subscriptionId: d.subscriptionId,
                  url: urls.get(d.subscriptionId) ?? "",
                  eventId: d.eventId,
                  event: WEBHOOK_EVENTS[d.event] ?? "unknown",
                  orderId: d.orderId,
                  state: DELIVERY_STATES[d.state] ?? "Unknown",
                  attempts: d.attemptCount,
                  responseCode: d.lastStatusCode === 0 ? "" : String(d.lastStatusCode),
                  lastError: d.lastError,
                  created: formatTime(d.createTime),
                  lastAttempt: formatTime(d.lastAttemptTime),
                  nextAttempt: d.state === webhooksV1.Delivery_State.STATE_PENDING ? formatTime(d.nextAttemptTime) : "",
                }))
              : [],
            deliveriesNotice: deliveries.ok ? "" : deliveries.notice,
            deliveriesNextUrl:
              deliveries.ok && deliveries.value.nextPageToken !== ""
                ? `/admin/webhooks?${new URLSearchParams({ subscription, page_token: deliveries.value.nextPageToken })}`
                : "",
            flash: flashOf(request),
            error: errorOf(request),
          },
          status,
        );
      });

      admin.post<{ Params: { subscriptionId: string; deliveryId: string }; Body: FormBody }>(
        "/webhooks/:subscriptionId/deliveries/:deliveryId/redeliver",
        csrf,
        change<{ subscriptionId: string; deliveryId: string }>(
          "webhook redeliver",
          (request) => {
            const filter = field(request.body, "subscription").trim().slice(0, 100);
            return filter === ""
              ? "/admin/webhooks"
              : `/admin/webhooks?${new URLSearchParams({ subscription: filter })}`;
          },
          async (request, metadata) => {
            const { subscriptionId, deliveryId } = request.params;
            const { delivery } = await store.webhooks.redeliver(
              webhooksV1.RedeliverRequest.fromPartial({ subscriptionId, deliveryId }),
              { metadata },
            );
            const again = delivery?.deliveryId ?? "";
            return {
              target: { subscription_id: subscriptionId, delivery_id: deliveryId, redelivery_id: again },
              done: `Redelivery queued: delivery ${again.slice(0, 8)} is pending.`,
            };
          },
        ),
      );
    },
    { prefix: "/admin" },
  );
}

/** A refusal decided here (a missing reason), shown like a service's message. */
class LocalError extends Error {}
