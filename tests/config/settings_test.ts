import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveSettings, type Settings } from "../../src/config/settings.ts";
import { DEFAULT_UPSTREAM } from "../../src/config/serve_options.ts";
import { parseDuration, parseSize } from "../../src/config/values.ts";
import { ArgumentError } from "../../src/config/arguments.ts";

/** A fresh, empty working directory (no `.env`), removed by the caller. */
function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "flow-proxy-settings-" });
}

function resolve(
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd?: string,
): Settings {
  const dir = cwd ?? emptyDir;
  const result = resolveSettings(args, { env, cwd: dir, cpus: 4 });
  assert.equal(result.help, false);
  if (result.help) throw new Error("unreachable");
  return result.settings;
}

/** Asserts a ArgumentError with a one-line message matching `pattern`. */
function assertUsage(
  fn: () => unknown,
  pattern: RegExp,
): ArgumentError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof ArgumentError,
    `expected ArgumentError, got ${caught}`,
  );
  assert.match(caught.message, pattern);
  assert.ok(!caught.message.includes("\n"), `multi-line: ${caught.message}`);
  assert.ok(!caught.message.endsWith("."), `final period: ${caught.message}`);
  assert.match(caught.message, /^[A-Z-]/, "starts with a capital or a flag");
  return caught;
}

const emptyDir = tempDir();
globalThis.addEventListener("unload", () => {
  Deno.removeSync(emptyDir, { recursive: true });
});

Deno.test("resolveSettings gives the documented defaults", () => {
  const s = resolve([]);
  assert.equal(s.host, "127.0.0.1");
  assert.equal(s.port, 8899);
  assert.equal(s.secretsFile, "secrets.json");
  assert.equal(s.upstream.href, new URL(DEFAULT_UPSTREAM).href);
  assert.equal(s.numWorkers, 4);
  assert.equal(s.threaded, true);
  assert.equal(s.logLevel, "INFO");
  assert.equal(s.logFile, null);
  assert.equal(s.envFile, null);
  assert.equal(s.retryBodyLimit, 10 * 1024 * 1024);
  assert.equal(s.maxBodySize, 100 * 1024 * 1024);
  assert.equal(s.maxAttempts, 3);
  assert.equal(s.connectTimeout, 10_000);
  assert.equal(s.headersTimeout, 600_000);
  assert.equal(s.idleTimeout, 300_000);
  assert.equal(s.shutdownTimeout, 30_000);
  assert.equal(s.backoffBase, 10_000);
  assert.equal(s.backoffMax, 300_000);
  assert.equal(s.cooldownDefault, 30_000);
  assert.equal(s.watchSecrets, true);
  assert.equal(s.dbPath, join(emptyDir, "flow-proxy.db"));
  assert.deepEqual(s.allowIp, []);
  assert.equal(s.adminToken, null);
  assert.equal(s.requireKey, false);
  assert.equal(s.allowAnonymous, false);
});

Deno.test("resolveSettings numWorkers defaults to the CPU count", () => {
  const r = resolveSettings([], { env: {}, cwd: emptyDir, cpus: 7 });
  assert.ok(!r.help && r.settings.numWorkers === 7);
  const one = resolveSettings([], { env: {}, cwd: emptyDir, cpus: 0 });
  assert.ok(!one.help && one.settings.numWorkers === 1, "at least one worker");
});

Deno.test("resolveSettings precedence is flag > env > .env > default", async (t) => {
  const dir = tempDir();
  try {
    Deno.writeTextFileSync(
      join(dir, ".env"),
      [
        "FLOW_PROXY_PORT=7001",
        "FLOW_PROXY_HOST=10.0.0.1",
        "FLOW_PROXY_LOG_LEVEL=debug",
        "FLOW_PROXY_NUM_WORKERS=3",
        "FLOW_PROXY_UPSTREAM=http://dotenv.example/base",
        "FLOW_PROXY_IDLE_TIMEOUT=7s",
      ].join("\n") + "\n",
    );
    const env = {
      FLOW_PROXY_PORT: "7002",
      FLOW_PROXY_HOST: "10.0.0.2",
      FLOW_PROXY_NUM_WORKERS: "5",
    };

    await t.step(".env beats the default and records the file", () => {
      const s = resolve([], {}, dir);
      assert.equal(s.port, 7001);
      assert.equal(s.host, "10.0.0.1");
      assert.equal(s.logLevel, "DEBUG");
      assert.equal(s.numWorkers, 3);
      assert.equal(s.upstream.href, "http://dotenv.example/base");
      assert.equal(s.idleTimeout, 7000);
      assert.equal(s.envFile, join(dir, ".env"));
    });

    await t.step("environment beats .env", () => {
      const s = resolve([], env, dir);
      assert.equal(s.port, 7002);
      assert.equal(s.host, "10.0.0.2");
      assert.equal(s.numWorkers, 5);
      assert.equal(s.logLevel, "DEBUG", ".env still fills the rest");
    });

    await t.step("flag beats environment", () => {
      const s = resolve(
        ["--port", "7003", "--host=10.0.0.3", "--num-workers", "6"],
        env,
        dir,
      );
      assert.equal(s.port, 7003);
      assert.equal(s.host, "10.0.0.3");
      assert.equal(s.numWorkers, 6);
    });

    await t.step("flag beats .env for log level and upstream", () => {
      const s = resolve(
        ["--log-level", "error", "--upstream", "https://flag.example"],
        {},
        dir,
      );
      assert.equal(s.logLevel, "ERROR");
      assert.equal(s.upstream.href, "https://flag.example/");
    });

    await t.step("an empty environment value counts as unset", () => {
      const s = resolve([], { FLOW_PROXY_LOG_LEVEL: "" });
      assert.equal(s.logLevel, "INFO");
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("resolveSettings reads --env-file instead of ./.env", async (t) => {
  const dir = tempDir();
  try {
    Deno.writeTextFileSync(join(dir, ".env"), "FLOW_PROXY_PORT=7001\n");
    const other = join(dir, "other.env");
    Deno.writeTextFileSync(other, "FLOW_PROXY_PORT=7005\n");

    await t.step("the explicit file is used, ./.env ignored", () => {
      const s = resolve(["--env-file", other], {}, dir);
      assert.equal(s.port, 7005);
      assert.equal(s.envFile, other);
    });

    await t.step("the environment still beats the explicit file", () => {
      const s = resolve(
        ["--env-file", other],
        { FLOW_PROXY_PORT: "7006" },
        dir,
      );
      assert.equal(s.port, 7006);
    });

    await t.step("a missing explicit file is a usage error", () => {
      assertUsage(
        () => resolve(["--env-file", join(dir, "nope.env")], {}, dir),
        /^Cannot read env file ".*nope\.env": no such file$/,
      );
    });

    await t.step("no ./.env means no env file", () => {
      assert.equal(resolve([], {}, emptyDir).envFile, null);
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("resolveSettings rejects a bad port", async (t) => {
  for (const value of ["0", "65536", "abc", "80.5", "-1", "", "1e3"]) {
    await t.step(`--port=${JSON.stringify(value)}`, () => {
      const err = assertUsage(
        () => resolve([`--port=${value}`]),
        /^--port must be a port number from 1 to 65535, got ".*"$/,
      );
      assert.ok(err.message.includes(`"${value}"`));
    });
  }
  await t.step("from the environment, the variable is named", () => {
    assertUsage(
      () => resolve([], { FLOW_PROXY_PORT: "65536" }),
      /^FLOW_PROXY_PORT must be a port number from 1 to 65535, got "65536"$/,
    );
  });
  await t.step("1 and 65535 are accepted", () => {
    assert.equal(resolve(["--port", "1"]).port, 1);
    assert.equal(resolve(["--port", "65535"]).port, 65535);
  });
});

Deno.test("resolveSettings rejects a bad worker count", async (t) => {
  for (const value of ["0", "-1", "1.5", "two", ""]) {
    await t.step(`--num-workers=${JSON.stringify(value)}`, () => {
      assertUsage(
        () => resolve([`--num-workers=${value}`]),
        /^--num-workers must be a positive whole number, got ".*"$/,
      );
    });
  }
  await t.step("FLOW_PROXY_NUM_WORKERS=0", () => {
    assertUsage(
      () => resolve([], { FLOW_PROXY_NUM_WORKERS: "0" }),
      /^FLOW_PROXY_NUM_WORKERS must be a positive whole number, got "0"$/,
    );
  });
  await t.step("default RPM accepts 0 but not -1", () => {
    assert.equal(resolve(["--default-rpm", "0"]).defaultRpm, 0);
    assertUsage(
      () => resolve(["--default-rpm=-1"]),
      /^--default-rpm must be a whole number of 0 or more, got "-1"$/,
    );
  });
});

Deno.test("resolveSettings parses log levels in any case", async (t) => {
  const cases: [string, string][] = [
    ["debug", "DEBUG"],
    ["Info", "INFO"],
    ["WARNING", "WARNING"],
    ["warning", "WARNING"],
    ["WARN", "WARNING"],
    ["warn", "WARNING"],
    ["eRRoR", "ERROR"],
  ];
  for (const [input, expected] of cases) {
    await t.step(`${input} → ${expected}`, () => {
      assert.equal(resolve(["--log-level", input]).logLevel, expected);
    });
  }
  await t.step("unknown level is a usage error", () => {
    assertUsage(
      () => resolve(["--log-level", "verbose"]),
      /^--log-level must be one of DEBUG, INFO, WARNING, ERROR, got "verbose"$/,
    );
    assertUsage(
      () => resolve([], { FLOW_PROXY_LOG_LEVEL: "trace" }),
      /^FLOW_PROXY_LOG_LEVEL must be one of/,
    );
  });
});

Deno.test("resolveSettings validates the upstream URL", async (t) => {
  await t.step("http and https with a base path are kept", () => {
    assert.equal(
      resolve(["--upstream", "http://127.0.0.1:9/flow-llm-proxy"]).upstream
        .href,
      "http://127.0.0.1:9/flow-llm-proxy",
    );
    assert.ok(
      resolve(["--upstream", "https://x.example"]).upstream instanceof URL,
    );
  });
  const bad: [string, RegExp][] = [
    ["ftp://flow.example/x", /must be an http:\/\/ or https:\/\/ URL/],
    ["not a url", /must be an http:\/\/ or https:\/\/ URL/],
    ["flow.ciandt.com", /must be an http:\/\/ or https:\/\/ URL/],
    ["https://flow.example/x?tenant=a", /must not have a query or fragment/],
    ["https://flow.example/x#frag", /must not have a query or fragment/],
    ["https://user:pw@flow.example/", /must not carry a user name or password/],
  ];
  for (const [value, pattern] of bad) {
    await t.step(value, () => {
      const err = assertUsage(
        () => resolve(["--upstream", value]),
        /^--upstream /,
      );
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes("pw@"), "no password echoed");
    });
  }
  await t.step("from the environment", () => {
    assertUsage(
      () => resolve([], { FLOW_PROXY_UPSTREAM: "ftp://x" }),
      /^FLOW_PROXY_UPSTREAM must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"$/,
    );
  });
});

Deno.test("parseDuration reads ms, s, m and bare seconds", async (t) => {
  const good: [string, number][] = [
    ["500ms", 500],
    ["10s", 10_000],
    ["5m", 300_000],
    ["2min", 120_000],
    ["1h", 3_600_000],
    ["1.5s", 1500],
    ["3", 3000],
    [" 20s ", 20_000],
  ];
  for (const [input, ms] of good) {
    await t.step(`${JSON.stringify(input)} → ${ms}`, () => {
      assert.equal(parseDuration(input, "--x"), ms);
    });
  }
  for (
    const input of ["", "10x", "-1s", "s", "0", "0ms", "ten seconds", "5M"]
  ) {
    await t.step(`${JSON.stringify(input)} is refused`, () => {
      assertUsage(() => parseDuration(input, "--x"), /^--x must be /);
    });
  }
  await t.step("through resolveSettings", () => {
    const s = resolve([
      "--connect-timeout",
      "500ms",
      "--headers-timeout",
      "10s",
      "--idle-timeout",
      "5m",
      "--backoff-base=2s",
      "--backoff-max=1m",
      "--cooldown=45s",
      "--shutdown-timeout=1s",
    ]);
    assert.equal(s.connectTimeout, 500);
    assert.equal(s.headersTimeout, 10_000);
    assert.equal(s.idleTimeout, 300_000);
    assert.equal(s.backoffBase, 2000);
    assert.equal(s.backoffMax, 60_000);
    assert.equal(s.cooldownDefault, 45_000);
    assert.equal(s.shutdownTimeout, 1000);
    assertUsage(
      () => resolve(["--idle-timeout", "soon"]),
      /^--idle-timeout must be a duration such as 500ms, 10s or 5m, got "soon"$/,
    );
    assertUsage(
      () => resolve([], { FLOW_PROXY_CONNECT_TIMEOUT: "1 fortnight" }),
      /^FLOW_PROXY_CONNECT_TIMEOUT must be a duration/,
    );
  });
});

Deno.test("parseSize reads bytes and binary or decimal units", async (t) => {
  const good: [string, number][] = [
    ["10MiB", 10 * 1024 * 1024],
    ["10mib", 10 * 1024 * 1024],
    ["512KiB", 512 * 1024],
    ["1GB", 1_000_000_000],
    ["2MB", 2_000_000],
    ["1048576", 1_048_576],
    ["100b", 100],
    ["1.5KiB", 1536],
  ];
  for (const [input, bytes] of good) {
    await t.step(`${input} → ${bytes}`, () => {
      assert.equal(parseSize(input, "--x"), bytes);
    });
  }
  for (const input of ["", "ten", "10XB", "-1", "10 MiB MiB", "MiB"]) {
    await t.step(`${JSON.stringify(input)} is refused`, () => {
      assertUsage(
        () => parseSize(input, "--x"),
        /^--x must be a size such as 10MiB or 1048576, got ".*"$/,
      );
    });
  }
  await t.step("through resolveSettings", () => {
    const s = resolve(["--retry-body-limit", "1MiB"], {
      FLOW_PROXY_MAX_BODY_SIZE: "20MiB",
    });
    assert.equal(s.retryBodyLimit, 1024 * 1024);
    assert.equal(s.maxBodySize, 20 * 1024 * 1024);
    assertUsage(
      () => resolve(["--max-body-size", "huge"]),
      /^--max-body-size must be a size/,
    );
  });
});

Deno.test("resolveSettings turns threading off with --no-threaded or FLOW_PROXY_THREADED=0", async (t) => {
  await t.step("--no-threaded", () => {
    assert.equal(resolve(["--no-threaded"]).threaded, false);
  });
  for (const value of ["0", "false", "no", "off", "OFF"]) {
    await t.step(`FLOW_PROXY_THREADED=${value}`, () => {
      assert.equal(resolve([], { FLOW_PROXY_THREADED: value }).threaded, false);
    });
  }
  for (const value of ["1", "true", "yes", "on"]) {
    await t.step(`FLOW_PROXY_THREADED=${value}`, () => {
      assert.equal(resolve([], { FLOW_PROXY_THREADED: value }).threaded, true);
    });
  }
  await t.step("the flag beats FLOW_PROXY_THREADED=1", () => {
    assert.equal(
      resolve(["--no-threaded"], { FLOW_PROXY_THREADED: "1" }).threaded,
      false,
    );
  });
  await t.step("a bad boolean is a usage error", () => {
    assertUsage(
      () => resolve([], { FLOW_PROXY_THREADED: "maybe" }),
      /^FLOW_PROXY_THREADED must be true or false .*got "maybe"$/,
    );
  });
  await t.step("--no-threaded takes no value", () => {
    assertUsage(
      () => resolve(["--no-threaded=1"]),
      /^Option '--no-threaded' does not take a value$/,
    );
  });
  await t.step("--no-watch-secrets and switches", () => {
    assert.equal(resolve(["--no-watch-secrets"]).watchSecrets, false);
    assert.equal(
      resolve([], { FLOW_PROXY_WATCH_SECRETS: "0" }).watchSecrets,
      false,
    );
    assert.equal(resolve(["--require-key"]).requireKey, true);
    assert.equal(
      resolve([], { FLOW_PROXY_ALLOW_ANONYMOUS: "yes" }).allowAnonymous,
      true,
    );
  });
});

Deno.test("resolveSettings collects --allow-ip from flags and the environment", async (t) => {
  await t.step("repeatable flag", () => {
    assert.deepEqual(
      resolve(["--allow-ip", "10.0.0.0/8", "--allow-ip", "192.168.1.1/32"])
        .allowIp,
      ["10.0.0.0/8", "192.168.1.1/32"],
    );
  });
  await t.step("comma list in one flag", () => {
    assert.deepEqual(
      resolve(["--allow-ip", "10.0.0.0/8,::1/128"]).allowIp,
      ["10.0.0.0/8", "::1/128"],
    );
  });
  await t.step("env comma list, spaces and empties dropped", () => {
    assert.deepEqual(
      resolve([], { FLOW_PROXY_ALLOW_IP: " 10.0.0.0/8 , ,127.0.0.1/32," })
        .allowIp,
      ["10.0.0.0/8", "127.0.0.1/32"],
    );
  });
  await t.step("flags replace the env list", () => {
    assert.deepEqual(
      resolve(["--allow-ip", "1.2.3.4/32"], {
        FLOW_PROXY_ALLOW_IP: "10.0.0.0/8",
      }).allowIp,
      ["1.2.3.4/32"],
    );
  });
});

Deno.test("resolveSettings answers help", () => {
  for (const args of [["--help"], ["-h"], ["--port", "1", "--help"]]) {
    assert.deepEqual(
      resolveSettings(args, { env: {}, cwd: emptyDir }),
      { help: true },
      args.join(" "),
    );
  }
});

Deno.test("resolveSettings reports bad flags in one clean line", async (t) => {
  await t.step("unknown flag", () => {
    assertUsage(
      () => resolve(["--bogus"]),
      /^Unknown option '--bogus'$/,
    );
  });
  await t.step("unknown short flag", () => {
    assertUsage(() => resolve(["-z"]), /^Unknown option '-z'$/);
  });
  await t.step("positional argument", () => {
    assertUsage(() => resolve(["extra"]), /^Unexpected argument 'extra'$/);
  });
  await t.step("missing value", () => {
    assertUsage(
      () => resolve(["--port"]),
      /^Option '--port' needs a value$/,
    );
  });
});

Deno.test("resolveSettings defaults the secrets file to $CREDENTIALS_DIRECTORY when it has one", async (t) => {
  const dir = tempDir();
  try {
    await t.step("directory without secrets.json → secrets.json", () => {
      assert.equal(
        resolve([], { CREDENTIALS_DIRECTORY: dir }).secretsFile,
        "secrets.json",
      );
    });
    Deno.writeTextFileSync(join(dir, "secrets.json"), "[]");
    await t.step("directory with secrets.json → that file", () => {
      assert.equal(
        resolve([], { CREDENTIALS_DIRECTORY: dir }).secretsFile,
        join(dir, "secrets.json"),
      );
    });
    await t.step("the env var and the flag still win", () => {
      assert.equal(
        resolve([], {
          CREDENTIALS_DIRECTORY: dir,
          FLOW_PROXY_SECRETS_FILE: "/etc/x.json",
        }).secretsFile,
        "/etc/x.json",
      );
      assert.equal(
        resolve(["--secrets-file", "mine.json"], {
          CREDENTIALS_DIRECTORY: dir,
        }).secretsFile,
        "mine.json",
      );
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("resolveSettings defaults the models file to models.json beside the secrets file", async (t) => {
  const dir = tempDir();
  try {
    Deno.writeTextFileSync(join(dir, "secrets.json"), "[]");
    await t.step("no models.json → none (built-in catalogue)", () => {
      assert.equal(
        resolve([], { CREDENTIALS_DIRECTORY: dir }).modelsFile,
        null,
      );
    });
    Deno.writeTextFileSync(join(dir, "models.json"), "{}");
    await t.step("models.json in $CREDENTIALS_DIRECTORY → that file", () => {
      assert.equal(
        resolve([], { CREDENTIALS_DIRECTORY: dir }).modelsFile,
        join(dir, "models.json"),
      );
    });
    await t.step("beside a --secrets-file, relative to cwd", () => {
      assert.equal(
        resolve(["--secrets-file", "secrets.json"], {}, dir).modelsFile,
        "models.json",
      );
    });
    await t.step("the env var and the flag win", () => {
      assert.equal(
        resolve([], {
          CREDENTIALS_DIRECTORY: dir,
          FLOW_PROXY_CONFIG: "/etc/m.json",
        }).modelsFile,
        "/etc/m.json",
      );
      assert.equal(
        resolve(["--config", "mine.json"], { CREDENTIALS_DIRECTORY: dir })
          .modelsFile,
        "mine.json",
      );
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("resolveSettings places the database in $STATE_DIRECTORY", async (t) => {
  await t.step("STATE_DIRECTORY", () => {
    assert.equal(
      resolve([], { STATE_DIRECTORY: "/var/lib/flow-proxy" }).dbPath,
      join("/var/lib/flow-proxy", "flow-proxy.db"),
    );
  });
  await t.step("first of several directories", () => {
    assert.equal(
      resolve([], { STATE_DIRECTORY: "/var/lib/a:/var/lib/b" }).dbPath,
      join("/var/lib/a", "flow-proxy.db"),
    );
  });
  await t.step("--db and FLOW_PROXY_DB win", () => {
    assert.equal(
      resolve(["--db", "x.db"], { STATE_DIRECTORY: "/s" }).dbPath,
      "x.db",
    );
    assert.equal(resolve([], { FLOW_PROXY_DB: "y.db" }).dbPath, "y.db");
  });
  await t.step("--no-db disables it, even with --db", () => {
    assert.equal(resolve(["--no-db"]).dbPath, null);
    assert.equal(resolve(["--no-db", "--db", "x.db"]).dbPath, null);
  });
});

Deno.test("resolveSettings checks the admin token", async (t) => {
  const dir = tempDir();
  const longToken = "0123456789abcdef-admin";
  try {
    await t.step("a token from the flag or env", () => {
      assert.equal(resolve(["--admin-token", longToken]).adminToken, longToken);
      assert.equal(
        resolve([], { FLOW_PROXY_ADMIN_TOKEN: longToken }).adminToken,
        longToken,
      );
    });
    await t.step("shorter than 16 characters is refused", () => {
      const err = assertUsage(
        () => resolve(["--admin-token", "short-token"]),
        /^Admin token must be at least 16 characters long$/,
      );
      assert.ok(!err.message.includes("short-token"), "token not echoed");
      assert.equal(
        resolve(["--admin-token", "x".repeat(16)]).adminToken,
        "x".repeat(16),
      );
    });
    await t.step("read from a file, trimmed", () => {
      const file = join(dir, "token");
      Deno.writeTextFileSync(file, `  ${longToken}\n`);
      assert.equal(
        resolve(["--admin-token-file", file]).adminToken,
        longToken,
      );
      assert.equal(
        resolve([], { FLOW_PROXY_ADMIN_TOKEN_FILE: file }).adminToken,
        longToken,
      );
    });
    await t.step("a short token in a file is refused", () => {
      const file = join(dir, "short");
      Deno.writeTextFileSync(file, "tiny\n");
      assertUsage(
        () => resolve(["--admin-token-file", file]),
        /^Admin token must be at least 16 characters long$/,
      );
    });
    await t.step("an empty or missing file is refused", () => {
      const empty = join(dir, "empty");
      Deno.writeTextFileSync(empty, "\n");
      assertUsage(
        () => resolve(["--admin-token-file", empty]),
        /^Admin token file ".*empty" is empty$/,
      );
      assertUsage(
        () => resolve(["--admin-token-file", join(dir, "missing")]),
        /^Cannot read admin token file ".*missing": no such file$/,
      );
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("resolveSettings reads the other options from flags and env", () => {
  const s = resolve([
    "--log-file",
    "/tmp/fp.log",
    "--max-attempts",
    "5",
    "--clickhouse-url",
    "http://127.0.0.1:8123",
    "--log-queue-size",
    "50",
  ], {
    FLOW_PROXY_CLICKHOUSE_USER: "ch-user",
    FLOW_PROXY_CLICKHOUSE_TABLE: "t1",
    FLOW_PROXY_DEFAULT_BURST: "7",
  });
  assert.equal(s.logFile, "/tmp/fp.log");
  assert.equal(s.maxAttempts, 5);
  assert.equal(s.clickhouseUrl?.href, "http://127.0.0.1:8123/");
  assert.equal(s.clickhouseUser, "ch-user");
  assert.equal(s.clickhouseTable, "t1");
  assert.equal(s.logQueueSize, 50);
  assert.equal(s.defaultBurst, 7);
  assertUsage(
    () => resolve(["--max-attempts", "0"]),
    /^--max-attempts must be a positive whole number, got "0"$/,
  );
  assertUsage(
    () => resolve(["--log-file="]),
    /^--log-file must not be empty$/,
  );
});
