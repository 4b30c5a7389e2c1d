import assert from "node:assert/strict";
import { join } from "node:path";
import {
  closeLogging,
  flushLogs,
  getLog,
  isoTime,
  logLine,
  redact,
  registerSecrets,
  setupLogging,
} from "../../src/base/logging.ts";
import type { LogLevel } from "../../src/base/logging.ts";
import type { Logger } from "@logtape/logtape";

const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjbGllbnRJZCI6ImEifQ.c2lnbmF0dXJlLXBhcnQ";

/** Sets up logging at `level` into an array, runs `fn`, then closes logging. */
async function capture(
  level: LogLevel,
  fn: () => void | Promise<void>,
  file?: string,
): Promise<string[]> {
  const chunks: string[] = [];
  setupLogging({
    level,
    thread: "test-thread",
    write: (text) => chunks.push(text),
    file,
  });
  try {
    await fn();
    flushLogs();
  } finally {
    closeLogging();
  }
  return chunks.join("").split("\n").filter((l) => l !== "");
}

function logAll(): void {
  const log = getLog("test");
  log.debug("debug line");
  log.info("info line");
  log.warn("warning line");
  log.error("error line");
}

Deno.test("redact removes registered secrets, JWTs and client keys", async (t) => {
  await t.step("registered secret", () => {
    registerSecrets(["s3cr3t-value-XYZ-991"]);
    assert.equal(
      redact(
        "clientSecret=s3cr3t-value-XYZ-991 and again s3cr3t-value-XYZ-991",
      ),
      "clientSecret=[redacted] and again [redacted]",
    );
  });
  await t.step("values shorter than 4 characters are not registered", () => {
    registerSecrets(["ab"]);
    assert.equal(redact("table abc"), "table abc");
  });
  await t.step("a JWT anywhere in the text", () => {
    const out = redact(`Authorization: Bearer ${JWT} sent`);
    assert.equal(out, "Authorization: Bearer [redacted-jwt] sent");
  });
  await t.step("a client key", () => {
    assert.equal(
      redact("key fpk_AbCdEf0123456789_xyz used"),
      "key [redacted-key] used",
    );
  });
  await t.step("harmless text is unchanged", () => {
    const text = "Using configuration 'primary-1' for POST /v1/messages: 200";
    assert.equal(redact(text), text);
    assert.equal(redact("eyJ alone"), "eyJ alone");
    assert.equal(redact("fpk_short"), "fpk_short");
  });
});

Deno.test("setupLogging writes formatted lines at the configured level only", async (t) => {
  await t.step("INFO: no DEBUG lines", async () => {
    const lines = await capture("INFO", logAll);
    assert.equal(lines.length, 3, lines.join("\n"));
    assert.ok(!lines.some((l) => l.includes("debug line")));
    assert.match(
      lines[0],
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {4}\[test-thread\] info line$/,
    );
    assert.match(lines[1], / WARNING \[test-thread\] warning line$/);
    assert.match(lines[2], / ERROR {3}\[test-thread\] error line$/);
  });

  await t.step("DEBUG: every line", async () => {
    const lines = await capture("DEBUG", logAll);
    assert.equal(lines.length, 4);
    assert.match(lines[0], / DEBUG {3}\[test-thread\] debug line$/);
  });

  await t.step("WARNING: warnings and errors", async () => {
    const lines = await capture("WARNING", logAll);
    assert.deepEqual(
      lines.map((l) => l.replace(/^.*\] /, "")),
      ["warning line", "error line"],
    );
  });

  await t.step("ERROR: errors only", async () => {
    const lines = await capture("ERROR", logAll);
    assert.deepEqual(lines.map((l) => l.replace(/^.*\] /, "")), [
      "error line",
    ]);
  });

  await t.step("lines are written without an explicit flush", async () => {
    const chunks: string[] = [];
    setupLogging({ level: "INFO", thread: "t", write: (s) => chunks.push(s) });
    try {
      getLog("x").info("later");
      await Promise.resolve();
      await Promise.resolve();
      assert.match(chunks.join(""), /later\n$/);
    } finally {
      closeLogging();
    }
  });

  await t.step("nothing is written after closeLogging()", async () => {
    const chunks: string[] = [];
    setupLogging({ level: "INFO", thread: "t", write: (s) => chunks.push(s) });
    closeLogging();
    getLog("x").error("after close");
    await Promise.resolve();
    flushLogs();
    assert.deepEqual(chunks, []);
  });
});

Deno.test("setupLogging redacts every line it writes", async () => {
  registerSecrets(["another-Secret-4471"]);
  const lines = await capture("DEBUG", () => {
    const log = getLog("proxy");
    log.debug(`token ${JWT}`);
    log.info("secret another-Secret-4471 in text");
    log.warn("key fpk_0123456789abcdef here");
    log.error("obj {value}", { value: `Bearer ${JWT}` });
  });
  const text = lines.join("\n");
  assert.ok(!text.includes(JWT), text);
  assert.ok(!text.includes("another-Secret-4471"), text);
  assert.ok(!text.includes("fpk_0123456789abcdef"), text);
  assert.ok(text.includes("[redacted-jwt]"));
  assert.ok(text.includes("[redacted]"));
  assert.ok(text.includes("[redacted-key]"));
  assert.equal(lines.length, 4);
});

Deno.test("setupLogging formats template values", async () => {
  const lines = await capture("INFO", () => {
    const log = getLog("fmt");
    log.info`count ${3} name ${"primary"} obj ${{ a: 1 }}`;
  });
  assert.match(lines[0], /\] count 3 name primary obj \{"a":1\}$/);
});

Deno.test("setupLogging also appends to a log file", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "flow-proxy-log-" });
  try {
    const file = join(dir, "proxy.log");
    Deno.writeTextFileSync(file, "existing line\n");
    const written = await capture("INFO", () => {
      getLog("file").info(`to file ${JWT}`);
      getLog("file").debug("not at INFO");
    }, file);
    const content = Deno.readTextFileSync(file);
    assert.ok(content.startsWith("existing line\n"), "appended, not truncated");
    assert.match(
      content,
      /INFO {4}\[test-thread\] to file \[redacted-jwt\]\n$/,
    );
    assert.ok(!content.includes("not at INFO"));
    assert.ok(!content.includes(JWT));
    assert.equal(written.length, 1, "stderr gets the same line");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("logLine writes what logger.info and logger.warn write, at the configured level only", async () => {
  const strip = (line: string) => line.replace(/^\S+ /, "");
  const viaLogTape = await capture("INFO", () => {
    const log = getLog("proxy");
    log.info(`request line ${JWT}`);
    log.warn("failed line");
  });
  const direct = await capture("INFO", () => {
    const log = getLog("proxy");
    logLine(log, "info", `request line ${JWT}`);
    logLine(log, "warning", "failed line");
  });
  assert.deepEqual(direct.map(strip), viaLogTape.map(strip));
  assert.deepEqual(direct.map(strip), [
    "INFO    [test-thread] request line [redacted-jwt]",
    "WARNING [test-thread] failed line",
  ]);
  assert.match(direct[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO /);
  const quiet = await capture("WARNING", () => {
    const log = getLog("proxy");
    logLine(log, "info", "not written");
    logLine(log, "warning", "written");
  });
  assert.deepEqual(quiet.map(strip), ["WARNING [test-thread] written"]);
});

Deno.test("logLine hands a logger it did not make (a test's) its own call", () => {
  const calls: string[] = [];
  const logger = {
    info: (m: string) => calls.push(`info ${m}`),
    warn: (m: string) => calls.push(`warn ${m}`),
  } as unknown as Logger;
  logLine(logger, "info", "a");
  logLine(logger, "warning", "b");
  assert.deepEqual(calls, ["info a", "warn b"]);
});

Deno.test("isoTime is toISOString, across milliseconds, seconds and years", () => {
  const times = [
    0,
    7,
    42,
    999,
    1000,
    Date.UTC(2026, 11, 2, 7, 59, 59, 999),
    Date.UTC(2026, 11, 2, 8, 0, 0, 0),
    Date.UTC(2026, 11, 2, 8, 0, 0, 5),
    Date.UTC(2026, 11, 2, 8, 0, 0, 50),
    Date.UTC(12000, 0, 1, 0, 0, 0, 1),
    Date.UTC(2026, 11, 2, 8, 0, 1, 500),
  ];
  for (const ms of times) {
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
  for (
    let ms = Date.UTC(2026, 0, 1);
    ms < Date.UTC(2026, 0, 1) + 3000;
    ms += 7
  ) {
    assert.equal(isoTime(ms), new Date(ms).toISOString());
  }
});
