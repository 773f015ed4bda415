import { runService } from "@obfy/kit/service";
import { cartService } from "./app.js";

await runService(cartService);
