/** Compiles every bench fixture into `outDir` as `<name>.mjs`. */
export function compileFixtures(outDir: string): Promise<void>;
