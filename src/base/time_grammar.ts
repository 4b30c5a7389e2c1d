/**
 * The one grammar of durations and points in time that flow-proxy reads:
 * the `serve` duration flags, `usage --since/--until`, `keys --expires`
 * and the admin API's `?since=` all go through these functions, so the same
 * text means the same time everywhere.
 *
 * - A duration is a number and a unit: `250ms`, `10s`, `1.5s`, `5m`,
 *   `90min`, `1h`, `7d`, `2w` (units are lower case; `M` is not minutes).
 * - A point in time is a calendar date (`2026-11-01`), a date and time
 *   (`2026-11-01T08:00`, seconds and milliseconds optional, `T` or a space),
 *   read as UTC unless it carries `Z` or an offset (`+01:00`, `-0500`), or
 *   epoch milliseconds (12 digits or more). A date that does not exist
 *   (`2026-02-30`) is refused, not rolled over into the next month.
 *
 * The functions return null for text outside the grammar; each caller words
 * its own error, because each has always named its own flag or field.
 *
 * @module
 */

/** Milliseconds per duration unit. */
const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
/** Fewer digits would be a year or a typo, not a time since 1973. */
const EPOCH_MS = /^\d{12,}$/;

/**
 * A duration such as `500ms`, `10s`, `1.5h` or `7d` in whole milliseconds
 * (rounded); null when `text` is not one. Zero is a duration; a sign is not
 * part of the grammar.
 */
export function parseDuration(text: string): number | null {
  const match = DURATION.exec(text.trim());
  const unit = match ? DURATION_UNITS[match[2]] : undefined;
  if (!match || unit === undefined) return null;
  return Math.round(Number(match[1]) * unit);
}

/**
 * A point in time, in epoch milliseconds: `2026-11-01`,
 * `2026-11-01T08:00[:00[.000]]` (UTC unless a zone is given) or epoch
 * milliseconds; null when `text` is not one or names a date that does not exist.
 */
export function parseInstant(text: string): number | null {
  const trimmed = text.trim();
  if (EPOCH_MS.test(trimmed)) return Number(trimmed);
  const m = DATE_TIME.exec(trimmed);
  if (!m) return null;
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone = "Z"] = m;
  const offset = zone.toUpperCase() === "Z"
    ? "Z"
    : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const time = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${offset}`);
  // Date.parse rolls 2026-02-30 over to March; a date that does not exist is a typo.
  const calendar = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (
    Number.isNaN(time) || calendar.getUTCMonth() !== Number(mo) - 1 ||
    calendar.getUTCDate() !== Number(d)
  ) {
    return null;
  }
  return time;
}

/**
 * A start time: a duration back from `now` (`24h`, `7d`) or a point in time
 * ({@linkcode parseInstant}); epoch ms, or null when `text` is neither.
 */
export function parseSince(text: string, now: number): number | null {
  const age = parseDuration(text);
  return age === null ? parseInstant(text) : now - age;
}

/**
 * An end time: a duration ahead of `now` (`30d`, `12h`) or a point in time
 * ({@linkcode parseInstant}); epoch ms, or null when `text` is neither.
 */
export function parseDeadline(text: string, now: number): number | null {
  const ahead = parseDuration(text);
  return ahead === null ? parseInstant(text) : now + ahead;
}
