/** A configuration problem with TLS files or variables; the message names the variable or file to fix. */
export class TlsConfigError extends Error {
  override readonly name = "TlsConfigError";
}
