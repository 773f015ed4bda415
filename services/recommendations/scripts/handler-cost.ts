/**
 * The hot path alone, in-process: the cost of one v1 Recommend handler call (validation, the
 * model lookup, the sample) and the encoding of its answer, before and after the read model:
 *
 *   node_modules/.bin/node --conditions=source --import tsx services/recommendations/scripts/handler-cost.ts
 *
 * "before" is the handler body as it was (a sample of the file's category, mapped to messages on
 * every call); "after" is today's handler on the books file's model and on a model of 300
 * catalogue books. Rounds alternate; prints the median CPU time per call of each (process.cpuUsage, so
 * other load on the machine matters less).
 */
import { recommendationsV1 } from "@obfy/protos";
import { loadCatalog } from "../src/catalog.js";
import { buildModel, modelFromBooksFile } from "../src/model.js";
import { sampleDistinct } from "../src/recommend.js";
import { createRecommendationsV1Handlers } from "../src/recommendations-v1-handlers.js";

const CALLS = 200_000;
const ROUNDS = 7;
const catalog = loadCatalog();
const request = recommendationsV1.RecommendRequest.fromPartial({
  userId: 1,
  category: recommendationsV1.BookCategory.BOOK_CATEGORY_SCIENCE_FICTION,
  maxResults: 3,
});

const before = async (req: recommendationsV1.RecommendRequest) => {
  // The handler as it was before the read model (validation elided: the same checks remain).
  const category = req.category;
  const recommendations = sampleDistinct(catalog["science-fiction"], req.maxResults, Math.random).map((book) => ({
    id: book.id,
    title: book.title,
    category,
  }));
  return { recommendations };
};
const fileModel = modelFromBooksFile(catalog);
const afterFile = createRecommendationsV1Handlers({ catalog, model: () => fileModel });
const categories = ["mystery", "science-fiction", "self-help"];
const catalogueModel = buildModel(
  {
    revision: 1,
    books: Array.from({ length: 300 }, (_, i) => ({
      bookId: String(i + 1),
      isbn: "",
      title: `Book number ${i + 1}`,
      authors: ["An Author"],
      categoryIds: [categories[i % 3] as string],
      publicationYear: 2000,
      priceCurrency: "USD",
      priceMinor: 999,
      version: 1,
    })),
    categories,
    ratings: [],
    reviews: [],
    purchases: [],
    pairs: [],
  },
  catalog,
);
const afterCatalogue = createRecommendationsV1Handlers({ catalog, model: () => catalogueModel });

const cases = {
  "before (books file)": before,
  "after (books file model)": (r: recommendationsV1.RecommendRequest) => afterFile.recommend(r),
  "after (300-book catalogue model)": (r: recommendationsV1.RecommendRequest) => afterCatalogue.recommend(r),
};
const samples = new Map<string, number[]>();
let sink = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, handler] of Object.entries(cases)) {
    // CPU time of this process, not wall time: the machine is shared.
    const began = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) {
      const response = await handler(request);
      sink += recommendationsV1.RecommendResponse.encode(response).finish().byteLength;
    }
    const used = process.cpuUsage(began);
    const ns = ((used.user + used.system) * 1000) / CALLS;
    if (round > 0) samples.set(name, [...(samples.get(name) ?? []), ns]);
  }
}
console.log("| handler + encode | ns per call (median) |");
console.log("| --- | ---: |");
for (const [name, values] of samples) {
  const sorted = [...values].sort((a, b) => a - b);
  console.log(`| ${name} | ${Math.round(sorted[Math.floor(sorted.length / 2)] as number)} |`);
}
if (sink === 0) console.log("(nothing encoded)");
