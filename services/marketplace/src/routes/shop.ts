import { catalogV1, inventoryV1, recommendationsV1, reviewsV1 } from "@obfy/protos";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { formFailure, grpcCode, section } from "../calls.js";
import { type FormBody, field } from "../forms.js";
import { pageContext, type RouteContext, sendError } from "../page.js";
import { asShopper } from "../session.js";
import { openEventStream } from "../sse.js";
import { formatMoney, formatRating, formatTime, highlight, sendPage, stockText } from "../views.js";

/** Longest search the Catalog accepts (its SearchBooksRequest). */
export const MAX_SEARCH_LENGTH = 200;
/** Longest review the Reviews service accepts (its Review.text). */
export const MAX_REVIEW_LENGTH = 2000;
/** Books per category page. */
export const CATEGORY_PAGE_SIZE = 12;

/** A book as a list shows it. */
export interface ListedBook {
  readonly bookId: string;
  readonly title: string;
  readonly authors: readonly string[];
  readonly price: string;
  readonly rating: string;
}

function listed(book: catalogV1.Book): ListedBook {
  return {
    bookId: book.bookId,
    title: book.title,
    authors: book.authors,
    price: formatMoney(book.price),
    rating: book.rating !== undefined && book.rating.count > 0 ? formatRating(book.rating) : "",
  };
}

function recommended(book: recommendationsV1.RecommendedBook): ListedBook {
  return {
    bookId: book.bookId,
    title: book.title,
    authors: book.authors,
    price: formatMoney(book.price),
    rating: book.ratingCount > 0 ? formatRating({ average: book.ratingAverage, count: book.ratingCount }) : "",
  };
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The review form's state when the book page is shown again after a refused review. */
export interface ReviewForm {
  readonly rating: string;
  readonly text: string;
  readonly error?: string;
  readonly errors: Record<string, string>;
}

const EMPTY_REVIEW: ReviewForm = { rating: "5", text: "", errors: {} };

/** Home, categories, search, book pages with their stock stream, covers, and posting reviews. */
export function registerShopRoutes(app: FastifyInstance, context: RouteContext): void {
  const { store, timeoutMs } = context;

  app.get("/", async (request, reply) => {
    const log = request.log;
    const metadata = asShopper(request.shopper);
    const [categories, featured, forYou] = await Promise.all([
      section(log, "categories", () => store.catalog.listCategories({}, { timeoutMs })),
      section(log, "featured", () =>
        store.catalog.listBooks(catalogV1.ListBooksRequest.fromPartial({ orderBy: "-rating", pageSize: 8 }), {
          timeoutMs,
        }),
      ),
      section(log, "recommended", () =>
        store.recommendations.recommendForShopper(
          recommendationsV1.RecommendForShopperRequest.fromPartial({ maxResults: 4 }),
          { timeoutMs, metadata },
        ),
      ),
    ]);
    return sendPage(reply, "./home", "Online Books For You", pageContext(request, reply), {
      accountsNotice: request.accountsUnavailable ? "Signing in is unavailable right now." : "",
      categories: categories.ok ? { list: categories.value.categories } : { notice: categories.notice },
      featured: featured.ok ? { books: featured.value.books.map(listed) } : { notice: featured.notice },
      recommended: forYou.ok ? { books: forYou.value.books.map(recommended) } : { notice: forYou.notice },
    });
  });

  app.get<{ Params: { id: string }; Querystring: { page_token?: string | string[]; page?: string | string[] } }>(
    "/categories/:id",
    async (request, reply) => {
      const categoryId = request.params.id;
      const pageToken = one(request.query.page_token) ?? "";
      const page = Math.max(1, Math.min(10_000, Number.parseInt(one(request.query.page) ?? "1", 10) || 1));
      const [categories, books] = await Promise.all([
        store.catalog.listCategories({}, { timeoutMs }).then(
          (r) => r.categories,
          (error: unknown) => error,
        ),
        store.catalog
          .listBooks(catalogV1.ListBooksRequest.fromPartial({ categoryId, pageSize: CATEGORY_PAGE_SIZE, pageToken }), {
            timeoutMs,
          })
          .catch((error: unknown) => error),
      ]);
      if (books instanceof Error || categories instanceof Error || !Array.isArray(categories)) {
        const failure = books instanceof Error ? books : categories;
        const code = grpcCode(failure);
        if (code === "NOT_FOUND")
          return sendError(request, reply, 404, "Category not found", "There is no such category.");
        if (code === "INVALID_ARGUMENT")
          return sendError(
            request,
            reply,
            400,
            "Bad request",
            "This page link is not valid. Start from the first page.",
          );
        request.log.warn({ err: failure }, "catalogue unavailable");
        return sendError(request, reply, 503, "The catalogue is unavailable", "Please try again in a moment.");
      }
      const response = books as catalogV1.ListBooksResponse;
      const category = categories.find((c) => c.categoryId === categoryId);
      if (category === undefined)
        return sendError(request, reply, 404, "Category not found", "There is no such category.");
      const nextUrl =
        response.nextPageToken === ""
          ? ""
          : `/categories/${encodeURIComponent(categoryId)}?${new URLSearchParams({ page: String(page + 1), page_token: response.nextPageToken })}`;
      return sendPage(reply, "./category", category.displayName, pageContext(request, reply), {
        category,
        categories,
        books: response.books.map(listed),
        total: response.totalSize,
        page,
        nextUrl,
      });
    },
  );

  app.get<{ Querystring: { q?: string | string[]; page_token?: string | string[] } }>(
    "/search",
    async (request, reply) => {
      const q = (one(request.query.q) ?? "").trim();
      const pageToken = one(request.query.page_token) ?? "";
      const ctx = pageContext(request, reply, q.slice(0, MAX_SEARCH_LENGTH));
      const title = q === "" ? "Search books" : `Search: ${q.slice(0, 60)}`;
      if (q.length > MAX_SEARCH_LENGTH) {
        return sendPage(
          reply,
          "./search",
          "Search books",
          ctx,
          { q: "", error: `Your search is too long: use at most ${MAX_SEARCH_LENGTH} characters.` },
          400,
        );
      }
      if (q === "") return sendPage(reply, "./search", title, ctx, { q });
      try {
        const response = await store.catalog.searchBooks(
          catalogV1.SearchBooksRequest.fromPartial({ query: q, pageSize: 20, pageToken }),
          { timeoutMs },
        );
        const queryWords = q.split(/\s+/).filter((w) => w.length >= 2);
        const results = response.results.flatMap((result) => {
          const book = result.book;
          if (book === undefined) return [];
          const terms = [...result.matchedTerms, ...queryWords];
          const description = book.description.length > 300 ? `${book.description.slice(0, 300)}…` : book.description;
          return [
            {
              bookId: book.bookId,
              title: highlight(book.title, terms),
              authors: highlight(book.authors.join(", "), terms),
              description: highlight(description, terms),
              price: formatMoney(book.price),
            },
          ];
        });
        const nextUrl =
          response.nextPageToken === ""
            ? ""
            : `/search?${new URLSearchParams({ q, page_token: response.nextPageToken })}`;
        return sendPage(reply, "./search", title, ctx, { q, results, total: response.totalSize, nextUrl });
      } catch (error) {
        const failure = formFailure(error);
        if (!failure.unavailable) return sendPage(reply, "./search", title, ctx, { q, error: failure.message }, 400);
        request.log.warn({ err: error }, "search unavailable");
        return sendPage(
          reply,
          "./search",
          title,
          ctx,
          { q, notice: "Search is unavailable right now. Please try again in a moment." },
          503,
        );
      }
    },
  );

  const bookPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    bookId: string,
    reviewForm: ReviewForm,
    status: number,
  ) => {
    const log = request.log;
    const [book, stock, reviews, similar] = await Promise.all([
      store.catalog
        .getBook(catalogV1.GetBookRequest.fromPartial({ bookId }), { timeoutMs })
        .then((r) => r.book)
        .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
      section(
        log,
        "stock",
        () => store.inventory.getStock(inventoryV1.GetStockRequest.fromPartial({ bookId }), { timeoutMs }),
        "Stock information is unavailable right now.",
      ),
      section(
        log,
        "reviews",
        () =>
          store.reviews.listReviews(reviewsV1.ListReviewsRequest.fromPartial({ bookId, pageSize: 20 }), {
            timeoutMs,
          }),
        "Reviews are unavailable right now. Please try again in a moment.",
      ),
      section(
        log,
        "similar",
        () =>
          store.recommendations.recommendSimilar(
            recommendationsV1.RecommendSimilarRequest.fromPartial({ bookId, maxResults: 4 }),
            { timeoutMs },
          ),
        "Recommendations are unavailable right now.",
      ),
    ]);
    if (book instanceof Error || book === undefined) {
      if (book === undefined || grpcCode(book) === "NOT_FOUND" || grpcCode(book) === "INVALID_ARGUMENT") {
        return sendError(request, reply, 404, "Book not found", "We have no book at this address.");
      }
      log.warn({ err: book }, "catalogue unavailable");
      return sendError(
        request,
        reply,
        503,
        "The catalogue is unavailable",
        "This book cannot be shown right now. Please try again in a moment.",
      );
    }
    const available = stock.ok ? (stock.value.stock?.available ?? 0) : 0;
    return sendPage(
      reply,
      "./book",
      book.title,
      pageContext(request, reply),
      {
        book: {
          bookId: book.bookId,
          title: book.title,
          authors: book.authors,
          price: formatMoney(book.price),
          rating: formatRating(book.rating),
          description: book.description,
          year: book.publicationYear,
          pages: book.pageCount,
          isbn: book.isbn,
        },
        stock: stock.ok ? { available, text: stockText(available) } : { notice: stock.notice },
        reviews: reviews.ok
          ? {
              list: reviews.value.reviews.map((review) => ({
                rating: review.rating,
                author: review.authorDisplayName || "A reader",
                verified: review.verifiedPurchase,
                text: review.text,
                time: formatTime(review.createTime),
              })),
            }
          : { notice: reviews.notice },
        reviewForm,
        similar: similar.ok ? { books: similar.value.books.map(recommended) } : { notice: similar.notice },
      },
      status,
    );
  };

  app.get<{ Params: { id: string } }>("/books/:id", async (request, reply) =>
    bookPage(request, reply, request.params.id, EMPTY_REVIEW, 200),
  );

  app.get<{ Params: { id: string } }>("/books/:id/cover.svg", async (request, reply) => {
    try {
      const cover = await store.catalog.getBookCover(
        catalogV1.GetBookCoverRequest.fromPartial({ bookId: request.params.id }),
        { timeoutMs },
      );
      return reply.type("image/svg+xml").header("cache-control", "public, max-age=86400").send(Buffer.from(cover.data));
    } catch (error) {
      const code = grpcCode(error);
      if (code !== "NOT_FOUND" && code !== "INVALID_ARGUMENT") request.log.warn({ err: error }, "cover unavailable");
      return reply
        .code(code === "NOT_FOUND" || code === "INVALID_ARGUMENT" ? 404 : 503)
        .type("text/plain")
        .send("No cover");
    }
  });

  // The book page's live stock: WatchStock, relayed as server-sent events.
  app.get<{ Params: { id: string } }>("/books/:id/stock", async (request, reply) => {
    const bookId = request.params.id;
    const stream = openEventStream(request, reply, context.closing);
    try {
      for await (const change of store.inventory.watchStock(
        inventoryV1.WatchStockRequest.fromPartial({ bookIds: [bookId] }),
        { timeoutMs: Number.POSITIVE_INFINITY, signal: stream.signal },
      )) {
        const available = change.stock?.available ?? 0;
        stream.send("stock", { available, text: stockText(available) });
      }
    } catch (error) {
      if (!stream.signal.aborted) request.log.warn({ err: error, book_id: bookId }, "stock stream ended");
    } finally {
      stream.end();
    }
  });

  app.post<{ Params: { id: string }; Body: FormBody }>(
    "/books/:id/reviews",
    { preHandler: app.csrfProtection.bind(app) },
    async (request, reply) => {
      const bookId = request.params.id;
      const shopper = request.shopper;
      if (shopper === undefined) {
        return reply.redirect(`/account/sign-in?${new URLSearchParams({ return_to: `/books/${bookId}` })}`, 303);
      }
      const ratingText = field(request.body, "rating");
      const text = field(request.body, "text");
      const errors: Record<string, string> = {};
      const rating = Number(ratingText);
      if (!/^[1-5]$/.test(ratingText)) errors.rating = "Choose a rating between 1 and 5.";
      if (text.length > MAX_REVIEW_LENGTH) {
        errors.text = `Your review is too long: ${text.length} characters, at most ${MAX_REVIEW_LENGTH}.`;
      }
      if (Object.keys(errors).length > 0) {
        return bookPage(
          request,
          reply,
          bookId,
          { rating: ratingText, text, errors, error: "Please correct the review." },
          400,
        );
      }
      try {
        await store.reviews.createReview(
          reviewsV1.CreateReviewRequest.fromPartial({ bookId, review: { rating, text } }),
          { metadata: asShopper(shopper) },
        );
        request.log.info({ book_id: bookId, account_id: shopper.accountId }, "review posted");
        return reply.redirect(`/books/${encodeURIComponent(bookId)}#reviews`, 303);
      } catch (error) {
        const failure = formFailure(error, {
          rating: "rating",
          "review.rating": "rating",
          text: "text",
          "review.text": "text",
        });
        if (failure.unavailable) request.log.warn({ err: error }, "review not posted");
        return bookPage(
          request,
          reply,
          bookId,
          { rating: ratingText, text, errors: failure.fields, error: failure.message },
          failure.unavailable ? 503 : 400,
        );
      }
    },
  );
}
