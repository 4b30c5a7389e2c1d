// How the dashboard writes numbers, times and money: times in the browser's
// own time zone, unknown spend as "—" (never 0.00).

const DASH = "—";

/** A time (ISO string or epoch ms) in the local time zone. */
export function time(value) {
  if (value === null || value === undefined || value === "") return DASH;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}

/** A whole or decimal number with grouping; null as "—". */
export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return DASH;
  return Number(value).toLocaleString(undefined, {
    maximumFractionDigits: digits,
    minimumFractionDigits: 0,
  });
}

/** Milliseconds as "123 ms" or "1.2 s". */
export function ms(value) {
  if (value === null || value === undefined) return DASH;
  return value >= 1000
    ? `${(value / 1000).toFixed(2)} s`
    : `${Math.round(value)} ms`;
}

/** A share 0..1 as a percentage. */
export function pct(value) {
  if (value === null || value === undefined) return DASH;
  return `${(value * 100).toFixed(1)} %`;
}

/** Spend in `currency`; null (unpriced) as "—". */
export function money(value, currency) {
  if (value === null || value === undefined) return DASH;
  const amount = Number(value).toLocaleString(undefined, {
    minimumFractionDigits: 2,
    maximumFractionDigits: 6,
  });
  return currency ? `${amount} ${currency}` : amount;
}

/** A duration in seconds as "3 d 4 h", "5 h 2 min" or "42 s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return DASH;
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

/** Text or "—". */
export function text(value) {
  if (value === null || value === undefined || value === "") return DASH;
  if (Array.isArray(value)) return value.length === 0 ? DASH : value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
