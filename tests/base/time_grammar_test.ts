import assert from "node:assert/strict";
import {
  parseDeadline,
  parseDuration,
  parseInstant,
  parseSince,
} from "../../src/base/time_grammar.ts";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

Deno.test("parseDuration() reads a number and a unit, in ms", async (t) => {
  const cases: [string, number | null][] = [
    ["250ms", 250],
    ["10s", 10_000],
    ["1.5s", 1500],
    ["5m", 5 * MIN],
    ["90min", 90 * MIN],
    ["1h", HOUR],
    ["7d", 7 * DAY],
    ["2w", 14 * DAY],
    [" 20 s ", 20_000],
    ["0ms", 0],
    ["0.1ms", 0],
    ["0.6ms", 1],
    // Not durations: no unit, an unknown or upper-case unit, a sign, words.
    ["", null],
    ["10", null],
    ["s", null],
    ["5M", null],
    ["10x", null],
    ["30y", null],
    ["-5s", null],
    ["+5s", null],
    [".5s", null],
    ["ten seconds", null],
  ];
  for (const [input, expected] of cases) {
    await t.step(`${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(parseDuration(input), expected);
    });
  }
});

Deno.test("parseInstant() reads dates and times as UTC unless zoned, and refuses dates that do not exist", async (t) => {
  const cases: [string, number | null][] = [
    ["2026-11-01", Date.UTC(2026, 10, 1)],
    ["2026-11-01T08:00", Date.UTC(2026, 10, 1, 8)],
    ["2026-11-01 08:00", Date.UTC(2026, 10, 1, 8)],
    ["2026-11-01t08:00:30z", Date.UTC(2026, 10, 1, 8, 0, 30)],
    ["2026-11-01T08:00:30.250", Date.UTC(2026, 10, 1, 8, 0, 30, 250)],
    ["2026-11-01T08:00Z", Date.UTC(2026, 10, 1, 8)],
    ["2026-11-01T08:00+01:00", Date.UTC(2026, 10, 1, 7)],
    ["2026-11-01T08:00-0500", Date.UTC(2026, 10, 1, 13)],
    ["2028-02-29", Date.UTC(2028, 1, 29)],
    [String(NOW), NOW],
    // A date that does not exist is a typo, not the next month.
    ["2026-02-30", null],
    ["2026-02-29", null],
    ["2026-13-01", null],
    ["2026-04-31T10:00", null],
    ["2026-11-01T25:00", null],
    ["2026-11-01T08", null],
    ["2026-1-1", null],
    ["12345", null],
    ["yesterday", null],
    ["", null],
  ];
  for (const [input, expected] of cases) {
    await t.step(`${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(parseInstant(input), expected);
    });
  }
});

Deno.test("parseSince() and parseDeadline() count a duration back from and ahead of now", async (t) => {
  const cases: [string, number | null, number | null][] = [
    ["24h", NOW - DAY, NOW + DAY],
    ["7d", NOW - 7 * DAY, NOW + 7 * DAY],
    ["90m", NOW - 90 * MIN, NOW + 90 * MIN],
    ["2026-11-01", Date.UTC(2026, 10, 1), Date.UTC(2026, 10, 1)],
    ["2026-02-30", null, null],
    ["last-week", null, null],
  ];
  for (const [input, since, deadline] of cases) {
    await t.step(JSON.stringify(input), () => {
      assert.equal(parseSince(input, NOW), since);
      assert.equal(parseDeadline(input, NOW), deadline);
    });
  }
});
