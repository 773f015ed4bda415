/** A parsed form body (@fastify/formbody): a field sent twice is an array. */
export type FormBody = Record<string, string | string[] | undefined> | undefined;

/** A form field's text: the first value when sent twice, "" when missing. */
export function field(body: FormBody, name: string): string {
  const value = body?.[name];
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

/** A local path to return to after signing in, never another site ("//evil" and "https://…" are refused). */
export function safeReturnTo(value: string): string {
  return /^\/(?![/\\])[^\s]*$/.test(value) ? value : "/";
}
