/**
 * A client key's budget: tokens and/or spend per calendar day, week or
 * month (in the configured time zone), and how many requests it may have
 * in flight at once. Pure rules and calendar arithmetic; the shared
 * counters are in budget_table.ts.
 */

/** The calendar period a budget is counted over. */
export type BudgetPeriod = "day" | "week" | "month";

/** Every {@linkcode BudgetPeriod}. */
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ["day", "week", "month"];

/**
 * A budget as a key holds it. At least one of `tokens`, `spendNanos` or
 * `maxParallel` is set.
 */
export interface Budget {
  period: BudgetPeriod;
  /** Tokens per period (input + output, as Flow reports them); null: no token limit. */
  tokens: number | null;
  /** Spend per period, billionths of the models configuration's currency; null: no spend limit. */
  spendNanos: number | null;
  /** Requests in flight at once; null: no limit. */
  maxParallel: number | null;
}

/**
 * A budget a key shares with other keys: its owner's (every key the user
 * owns counts) or the owner's team's (every key of its members counts).
 * The store worker adds these to each key it publishes.
 */
export interface SharedBudget {
  /** The shared counter's name: `user:<name>` or `team:<name>` (key names hold no colon). */
  slot: string;
  /** Whose budget, for the refusal: "user" or "team". */
  holder: "user" | "team";
  /** The user's or team's name as stored. */
  name: string;
  budget: Budget;
  /** What the request log says all its keys used in the current period (seeds the counter). */
  used?: { period: number; tokens: number; nanos: number };
}

/** Largest token budget accepted. */
const MAX_TOKENS = 1e15;
/** Largest spend budget accepted, in currency units. */
const MAX_SPEND = 1e9;

/**
 * Checks a budget's fields (as `flow-proxy keys` or the admin API gives
 * them: `spend` in currency units); throws a `RangeError` or `TypeError`
 * naming the field. Returns the budget as keys hold it.
 */
export function validateBudget(input: {
  period?: unknown;
  tokens?: unknown;
  spend?: unknown;
  maxParallel?: unknown;
}): Budget {
  const period = input.period ?? "month";
  if (!BUDGET_PERIODS.includes(period as BudgetPeriod)) {
    throw new TypeError(
      `Invalid budget period ${JSON.stringify(period)}: use day, week or month`,
    );
  }
  const whole = (value: unknown, field: string, max: number): number | null => {
    if (value === undefined || value === null) return null;
    if (
      typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 ||
      value > max
    ) {
      throw new RangeError(
        `Invalid budget ${field} ${
          JSON.stringify(value)
        }: must be a whole number from 1 to ${max}`,
      );
    }
    return value;
  };
  const tokens = whole(input.tokens, "tokens", MAX_TOKENS);
  const maxParallel = whole(input.maxParallel, "max parallel", 100_000);
  let spendNanos: number | null = null;
  if (input.spend !== undefined && input.spend !== null) {
    const spend = input.spend;
    if (
      typeof spend !== "number" || !Number.isFinite(spend) || spend <= 0 ||
      spend > MAX_SPEND
    ) {
      throw new RangeError(
        `Invalid budget spend ${
          JSON.stringify(spend)
        }: must be an amount above 0 and at most ${MAX_SPEND}`,
      );
    }
    spendNanos = Math.round(spend * 1e9);
  }
  if (tokens === null && spendNanos === null && maxParallel === null) {
    throw new TypeError(
      "A budget needs at least one of tokens, spend or max parallel",
    );
  }
  return { period: period as BudgetPeriod, tokens, spendNanos, maxParallel };
}

/** Whether `zone` is an IANA time zone this runtime knows (`UTC`, `America/Sao_Paulo`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The formatters of one time zone: building one costs tens of µs, so each is made once. */
interface ZoneFormats {
  date: Intl.DateTimeFormat;
  time: Intl.DateTimeFormat;
}

const ZONE_FORMATS = new Map<string, ZoneFormats>();

function formatsOf(zone: string): ZoneFormats {
  let formats = ZONE_FORMATS.get(zone);
  if (formats === undefined) {
    formats = {
      date: new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        year: "numeric",
        month: "numeric",
        day: "numeric",
        weekday: "short",
      }),
      time: new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      }),
    };
    ZONE_FORMATS.set(zone, formats);
  }
  return formats;
}

/** The wall-clock parts of `ms` in `zone`. */
function wallClock(ms: number, zone: string): {
  year: number;
  month: number;
  day: number;
  weekday: number;
} {
  const parts = formatsOf(zone).date.formatToParts(new Date(ms));
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  const weekday = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(
    get("weekday"),
  );
  return {
    year: Number(get("year")),
    month: Number(get("month")),
    day: Number(get("day")),
    weekday,
  };
}

/** The instant of midnight at the start of `year-month-day` in `zone`. */
function midnight(year: number, month: number, day: number, zone: string) {
  // Start from UTC midnight and correct by the zone's offset (twice, for a
  // change of offset between the guess and the answer).
  const utc = Date.UTC(year, month - 1, day);
  let guess = utc;
  for (let i = 0; i < 2; i++) guess = utc - offsetMs(guess, zone);
  return guess;
}

/** The zone's offset from UTC at `ms`, in ms. */
function offsetMs(ms: number, zone: string): number {
  const parts = formatsOf(zone).time.formatToParts(new Date(ms));
  const get = (type: string) =>
    Number(parts.find((p) => p.type === type)!.value);
  const asUtc = Date.UTC(
    get("year"),
    get("month") - 1,
    get("day"),
    get("hour"),
    get("minute"),
    get("second"),
  );
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The start and end (epoch ms) of the `period` that holds `now`, in
 * `zone`: a day from midnight, a week from Monday, a month from the 1st.
 */
export function periodBounds(
  now: number,
  period: BudgetPeriod,
  zone: string,
): { start: number; end: number } {
  // A period's bounds change only when it ends: every request until then
  // reuses them (the calendar arithmetic costs tens of µs).
  const key = period + " " + zone;
  const known = BOUNDS.get(key);
  if (known !== undefined && known.start <= now && now < known.end) {
    return known;
  }
  const bounds = computeBounds(now, period, zone);
  BOUNDS.set(key, bounds);
  return bounds;
}

/** The last bounds computed per period and zone. */
const BOUNDS = new Map<string, { start: number; end: number }>();

function computeBounds(
  now: number,
  period: BudgetPeriod,
  zone: string,
): { start: number; end: number } {
  const { year, month, day, weekday } = wallClock(now, zone);
  if (period === "day") {
    return {
      start: midnight(year, month, day, zone),
      end: midnight(year, month, day + 1, zone),
    };
  }
  if (period === "week") {
    return {
      start: midnight(year, month, day - weekday, zone),
      end: midnight(year, month, day - weekday + 7, zone),
    };
  }
  return {
    start: midnight(year, month, 1, zone),
    end: midnight(year, month + 1, 1, zone),
  };
}

/** Output tokens a request is expected to use before its answer says. */
const ESTIMATED_OUTPUT_TOKENS = 1024;

/**
 * What a request is expected to use before its answer says, for the
 * reservation that keeps parallel requests from overdrawing: its body's
 * bytes / 4 as input tokens plus 1024 output tokens, and, when the model has
 * a price (billionths of the currency per input and output token), what
 * they would cost.
 */
export function estimateUse(
  bodyBytes: number,
  inputNanosPerToken: number | null,
  outputNanosPerToken: number | null,
): { tokens: number; nanos: number | null } {
  const input = Math.ceil(bodyBytes / 4);
  return {
    tokens: input + ESTIMATED_OUTPUT_TOKENS,
    nanos: inputNanosPerToken === null || outputNanosPerToken === null
      ? null
      : Math.ceil(
        input * inputNanosPerToken +
          ESTIMATED_OUTPUT_TOKENS * outputNanosPerToken,
      ),
  };
}
