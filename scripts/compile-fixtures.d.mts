/** Compiles bench fixtures (file names without `.ts`; default: all) into `outDir` as `<name>.mjs`. */
export function compileFixtures(outDir: string, names?: readonly string[]): Promise<void>;
