import { runService } from "@obfy/kit/service";
import { reviewsService } from "./app.js";

await runService(reviewsService);
