// Build step: writes generated/openapi.json from the protos' descriptor set, and
// generated/openapi.d.ts, the TypeScript types openapi-typescript generates from it (what a
// client such as openapi-fetch is typed with; the gateway's client test uses them). Run by
// `npm run build`.
import { mkdirSync, writeFileSync } from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";
import { loadApiDescriptors } from "../src/descriptors.js";
import { generateOpenApiDocument } from "../src/openapi.js";

const folder = new URL("../generated/", import.meta.url);
mkdirSync(folder, { recursive: true });
const document = generateOpenApiDocument(loadApiDescriptors());
const json = `${JSON.stringify(document, null, 2)}\n`;
writeFileSync(new URL("openapi.json", folder), json);
const types = astToString(await openapiTS(json));
writeFileSync(
  new URL("openapi.d.ts", folder),
  `// Generated from openapi.json by openapi-typescript. Do not edit.\n${types}`,
);
// Generated code is not linted or formatted (biome reads this nested configuration).
writeFileSync(new URL("biome.json", folder), '{ "root": false, "files": { "includes": ["!**"] } }\n');
console.log(
  `gateway: wrote ${folder.pathname}openapi.json (${Object.keys(document.paths as object).length} paths) and openapi.d.ts`,
);
