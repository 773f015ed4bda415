// Build step: writes generated/openapi.json from the protos' descriptor set. Run by `npm run build`.
import { mkdirSync, writeFileSync } from "node:fs";
import { loadApiDescriptors } from "../src/descriptors.js";
import { generateOpenApiDocument } from "../src/openapi.js";

const target = new URL("../generated/openapi.json", import.meta.url);
mkdirSync(new URL(".", target), { recursive: true });
const document = generateOpenApiDocument(loadApiDescriptors());
writeFileSync(target, `${JSON.stringify(document, null, 2)}\n`);
console.log(`gateway: wrote ${target.pathname} (${Object.keys(document.paths as object).length} paths)`);
