/** The one place the program's version is written; `--version` and the banner read it. */
export const VERSION = "0.1.0";
