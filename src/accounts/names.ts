/**
 * The grammar of user, team and API-token names, and the one error class
 * that accounts operations throw for input a caller got wrong.
 *
 * @module
 */

/** Letters, digits, `.`, `_`, `@`, `-`; 1 to 64 of them, starting with a letter or digit. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** What went wrong with an accounts operation, as the admin API answers it. */
export type AccountsErrorKind = "bad_request" | "not_found" | "forbidden";

/** An accounts operation refused: nothing was changed. */
export class AccountsError extends Error {
  /** How the admin API answers it. */
  readonly kind: AccountsErrorKind;

  /** A refusal of `kind` explained by `message`. */
  constructor(kind: AccountsErrorKind, message: string) {
    super(message);
    this.name = "AccountsError";
    this.kind = kind;
  }
}

/** Whether `text` is a valid name (see the module doc). */
export function isValidName(text: unknown): text is string {
  return typeof text === "string" && NAME.test(text);
}

/** `text` as a name of `what` ("user", "team", "token"); throws {@linkcode AccountsError} otherwise. */
export function checkName(text: unknown, what: string): string {
  if (isValidName(text)) return text;
  throw new AccountsError(
    "bad_request",
    `Invalid ${what} name ${
      typeof text === "string"
        ? JSON.stringify(text.slice(0, 80))
        : String(text)
    }: 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`,
  );
}
