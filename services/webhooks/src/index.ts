// The Webhooks service's definition and the pieces its tests and tools use.
export { webhooksService } from "./app.js";
export { SIGNATURE_HEADER, signatureHeader, verifySignature } from "./signature.js";
export { isBlockedAddress } from "./target-guard.js";
