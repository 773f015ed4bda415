import { runService } from "@obfy/kit/service";
import { ordersService } from "./app.js";

await runService(ordersService);
