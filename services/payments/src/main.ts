import { runService } from "@obfy/kit/service";
import { paymentsService } from "./app.js";

await runService(paymentsService);
