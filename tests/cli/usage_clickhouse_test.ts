import assert from "node:assert/strict";
import { join } from "node:path";
import { usageCommand } from "../../src/cli/usage.ts";
import type { CommandIo } from "../../src/cli/command.ts";
import type { RequestRecord } from "../../src/request_log/record.ts";
import { openRequestLog } from "../../src/request_log/sqlite_store.ts";
import { createClickHouseSink } from "../../src/request_log/clickhouse.ts";
import { openKeyStore } from "../../src/access/key_store.ts";
import {
  CLICKHOUSE_TEST_PASSWORD,
  CLICKHOUSE_TEST_USER,
  createClickHouseServer,
  freePort,
} from "../support/clickhouse.ts";

const HOUR = 3_600_000;

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: crypto.randomUUID(),
    ts: Date.now() - HOUR,
    client: null,
    credential: "primary",
    method: "POST",
    path: "/v1/chat/completions",
    model: "gpt-4o",
    status: 200,
    durationMs: 900,
    ttftMs: 120,
    bytesIn: 300,
    bytesOut: 3000,
    tokensIn: 1000,
    tokensOut: 250,
    cacheReadTokens: null,
    cacheWriteTokens: null,
    error: null,
    attempts: 1,
    stream: true,
    ...overrides,
  };
}

function fakeIo(cwd: string, env: Record<string, string | undefined> = {}) {
  const out = { stdout: "", stderr: "" };
  const io: CommandIo = {
    env,
    cwd,
    stdout: (text) => out.stdout += text,
    stderr: (text) => out.stderr += text,
  };
  return { io, out };
}

const AUTH = {
  FLOW_PROXY_CLICKHOUSE_USER: CLICKHOUSE_TEST_USER,
  FLOW_PROXY_CLICKHOUSE_PASSWORD: CLICKHOUSE_TEST_PASSWORD,
};

Deno.test("usageCommand reads the ClickHouse log every instance writes when one is configured", async (t) => {
  await using server = await createClickHouseServer();
  await server.start();
  const dir = await Deno.makeTempDir({ prefix: "flow-proxy-usage-ch-" });
  try {
    // Two "instances" wrote to ClickHouse; the local file holds one request only.
    const sink = createClickHouseSink({
      url: server.url,
      database: "default",
      table: "flow_proxy_requests",
      user: CLICKHOUSE_TEST_USER,
      password: CLICKHOUSE_TEST_PASSWORD,
      retry: { attempts: 1, baseMs: 0 },
    });
    await sink.write([
      record({ client: "alice-laptop", credential: "a" }),
      record({ client: "alice-laptop", credential: "b" }),
    ]);
    await sink.write([record({ credential: "c", status: 500 })]);
    await sink.close();
    const db = join(dir, "flow-proxy.db");
    const local = openRequestLog(db);
    await local.write([record({ credential: "local-only" })]);
    await local.close();
    {
      using keys = openKeyStore(db);
      keys.create({ name: "alice-laptop", owner: "alice" });
    }
    const url = server.url.href;

    await t.step("--clickhouse-url: every instance's requests", async () => {
      const { io, out } = fakeIo(dir, AUTH);
      assert.equal(
        await usageCommand(["--clickhouse-url", url, "--json"], io),
        0,
        out.stderr,
      );
      const report = JSON.parse(out.stdout);
      assert.equal(report.total.requests, 3);
      assert.equal(report.total.errors, 1);
      assert.equal(
        report.clickhouse,
        `ClickHouse ${server.url.host}/default.flow_proxy_requests`,
      );
      assert.deepEqual(
        report.byCredential.map((c: { credential: string }) => c.credential),
        ["a", "b", "c"],
      );
    });

    await t.step(
      "the environment variable, tables, owners from --db",
      async () => {
        const { io, out } = fakeIo(dir, {
          ...AUTH,
          FLOW_PROXY_CLICKHOUSE_URL: url,
        });
        assert.equal(await usageCommand(["--by", "user"], io), 0, out.stderr);
        const lines = out.stdout.split("\n");
        assert.equal(
          lines[0],
          `Request log ClickHouse ${server.url.host}/default.flow_proxy_requests, the beginning to now`,
        );
        assert.match(out.stdout, /^alice\s+2\s+0\s+2000\s+500\s/m);
        assert.match(out.stdout, /^\(none\)\s+1\s+1\s/m);
      },
    );

    await t.step("--no-clickhouse reads the local file", async () => {
      const { io, out } = fakeIo(dir, {
        ...AUTH,
        FLOW_PROXY_CLICKHOUSE_URL: url,
      });
      assert.equal(
        await usageCommand(["--no-clickhouse", "--json"], io),
        0,
        out.stderr,
      );
      const report = JSON.parse(out.stdout);
      assert.equal(report.total.requests, 1);
      assert.equal(report.byCredential[0].credential, "local-only");
    });

    await t.step(
      "ClickHouse down: exit 1 naming host and port, never the password",
      async () => {
        const port = freePort();
        const { io, out } = fakeIo(dir, AUTH);
        assert.equal(
          await usageCommand(
            ["--clickhouse-url", `http://127.0.0.1:${port}/`],
            io,
          ),
          1,
        );
        assert.match(
          out.stderr,
          new RegExp(
            `^error: Cannot read the request log from ClickHouse at 127\\.0\\.0\\.1:${port}: `,
          ),
        );
        assert.ok(!out.stderr.includes(CLICKHOUSE_TEST_PASSWORD));
        assert.equal(out.stdout, "");
      },
    );

    await t.step("malformed ClickHouse settings are usage errors", async () => {
      for (
        const [args, env, message] of [
          [["--clickhouse-url", "ftp://x"], {}, "--clickhouse-url"],
          [
            [],
            { FLOW_PROXY_CLICKHOUSE_URL: "not a url" },
            "FLOW_PROXY_CLICKHOUSE_URL",
          ],
          [
            ["--clickhouse-url", url, "--clickhouse-table", "a-b"],
            {},
            `--clickhouse-table must be letters, digits and underscores, not starting with a digit, got "a-b"`,
          ],
        ] as const
      ) {
        const { io, out } = fakeIo(dir, env);
        assert.equal(await usageCommand([...args], io), 2, out.stdout);
        assert.ok(out.stderr.startsWith("error: "), out.stderr);
        assert.ok(out.stderr.includes(message), out.stderr);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
