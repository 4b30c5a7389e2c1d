/**
 * Secrets files that are not what they seem: keys repeated inside an entry,
 * bytes that are not UTF-8, and paths that are not regular files or are far
 * larger than `stat` says. Each is reported, none stalls or floods the reader.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  inspectSecretsFile,
  loadSecrets,
  MAX_SECRETS_FILE_BYTES,
  readSecretsFile,
  type SecretsIssue,
  SecretsReadError,
  validateSecrets,
} from "../../src/config/secrets.ts";

const encoder = new TextEncoder();

/** Bounds a read that would hang without the fix; the test then fails instead. */
const HANG_LIMIT_MS = 10_000;

async function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not return`)),
      HANG_LIMIT_MS,
    );
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

function bytes(...parts: (string | number[])[]): Uint8Array {
  const chunks = parts.map((p) =>
    typeof p === "string" ? encoder.encode(p) : new Uint8Array(p)
  );
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

function messages(issues: SecretsIssue[]): string[] {
  return issues.map((i) => i.message);
}

Deno.test("validateSecrets warns about a key repeated in an entry, naming line:column", async (t) => {
  await t.step("twice: the entry, the field and both places", () => {
    const text = [
      "[",
      '  {"name": "primary", "clientId": "first", "clientId": "second",',
      '   "clientSecret": "s", "tenant": "t"}',
      "]",
    ].join("\n");
    const report = validateSecrets(text, "secrets.json");
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, [{
      entry: 1,
      name: "primary",
      field: "clientId",
      message:
        'secrets.json: entry 1 ("primary"): "clientId" appears twice, at line 2, column 23 and line 2, column 44; the last one is used',
    }]);
    assert.equal(report.credentials[0].clientId, "second");
  });
  await t.step("an escaped spelling is the same key", () => {
    const text =
      '[{"clientSecret": "a", "\\u0063lientSecret": "b", "clientId": "c", "tenant": "t"}]';
    const report = validateSecrets(text, "s.json");
    assert.deepEqual(messages(report.warnings), [
      's.json: entry 1: "clientSecret" appears twice, at line 1, column 3 and line 1, column 24; the last one is used',
    ]);
  });
  await t.step("three times, in the second entry only", () => {
    const entry = '{"clientId": "c", "clientSecret": "s", "tenant": "t"}';
    const text = `[${entry},\n{"tenant": "a", "tenant": "b", "tenant": "c", ${
      entry.slice(1, -1).replace(', "tenant": "t"', "")
    }}]`;
    const report = validateSecrets(text, "s.json");
    assert.deepEqual(report.errors, []);
    assert.deepEqual(messages(report.warnings), [
      's.json: entry 2: "tenant" appears 3 times, at line 2, column 2, line 2, column 17 and line 2, column 32; the last one is used',
    ]);
  });
  await t.step("the same key in different entries is not repeated", () => {
    const entry = '{"clientId": "c", "clientSecret": "s", "tenant": "t"}';
    const report = validateSecrets(`[${entry}, ${entry}]`, "s.json");
    assert.deepEqual(report.warnings, []);
  });
  await t.step("the message never holds the values", () => {
    const text =
      '[{"clientSecret": "hunter2-old", "clientSecret": "hunter2-new", "clientId": "c", "tenant": "t"}]';
    const report = validateSecrets(text, "s.json");
    assert.equal(report.warnings.length, 1);
    assert.doesNotMatch(JSON.stringify(report.warnings), /hunter2/);
  });
});

Deno.test("validateSecrets reports bytes that are not UTF-8, naming line:column", async (t) => {
  await t.step("in a name: a warning, and the file is used", () => {
    const report = validateSecrets(
      bytes(
        '[\n  {"name": "pri',
        [0xff],
        'mary", "clientId": "c", "clientSecret": "s", "tenant": "t"}\n]',
      ),
      "secrets.json",
    );
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.warnings, [{
      entry: null,
      name: null,
      field: null,
      message:
        "secrets.json: bytes that are not valid UTF-8 at line 2, column 16; each is read as U+FFFD",
      hint: "save the file as UTF-8",
    }]);
    assert.equal(report.credentials[0].name, "pri\ufffdmary");
  });
  await t.step(
    "in a credential: an error for the field, since the value sent would differ",
    () => {
      const report = validateSecrets(
        bytes(
          '[{"name": "n", "clientId": "c", "clientSecret": "s',
          [0xc3, 0x28],
          '", "tenant": "t"}]',
        ),
        "s.json",
      );
      assert.deepEqual(messages(report.errors), [
        's.json: entry 1 ("n"): "clientSecret" contains bytes that are not valid UTF-8 (see the warning about the file)',
      ]);
      assert.deepEqual(messages(report.warnings), [
        "s.json: bytes that are not valid UTF-8 at line 1, column 51; each is read as U+FFFD",
      ]);
      assert.deepEqual(report.credentials, []);
    },
  );
  await t.step("columns count characters, after a byte-order mark", () => {
    const report = validateSecrets(
      bytes(
        [0xef, 0xbb, 0xbf],
        '[{"name": "é',
        [0xe2, 0x82],
        '", "clientId": "c", "clientSecret": "s", "tenant": "t"}]',
      ),
      "s.json",
    );
    assert.deepEqual(messages(report.warnings), [
      "s.json: bytes that are not valid UTF-8 at line 1, column 13; each is read as U+FFFD",
    ]);
  });
  await t.step("many: the first three and a count", () => {
    const report = validateSecrets(
      bytes(
        '[{"name": "',
        [0x80, 0x80, 0xf5, 0xc0, 0xaf],
        '", "clientId": "c", "clientSecret": "s", "tenant": "t"}]',
      ),
      "s.json",
    );
    assert.deepEqual(messages(report.warnings), [
      "s.json: bytes that are not valid UTF-8 at line 1, column 12, line 1, column 13, line 1, column 14 and 2 more; each is read as U+FFFD",
    ]);
  });
  await t.step("valid UTF-8, U+FFFD itself included, is not reported", () => {
    const report = validateSecrets(
      encoder.encode(
        '[{"name": "\ufffd ünïcode ✓ 🎉", "clientId": "c", "clientSecret": "s", "tenant": "t"}]',
      ),
      "s.json",
    );
    assert.deepEqual(report.warnings, []);
    assert.deepEqual(report.errors, []);
  });
});

Deno.test("readSecretsFile refuses what is not a regular file, without reading it", async (t) => {
  const dir = Deno.makeTempDirSync();
  const listeners: Deno.Listener[] = [];
  try {
    const cases: [string, () => Promise<string>, string][] = [
      [
        "/dev/zero",
        () => Promise.resolve("/dev/zero"),
        "is a character device, not a regular file",
      ],
      ["a FIFO", async () => {
        const path = join(dir, "fifo.json");
        await mkfifo(path);
        return path;
      }, "is a named pipe (FIFO), not a regular file"],
      ["a directory", () => Promise.resolve(dir), "is a directory"],
      ["a socket", () => {
        const path = join(dir, "socket.json");
        // Kept open: closing the listener removes the socket file.
        listeners.push(Deno.listen({ transport: "unix", path }));
        return Promise.resolve(path);
      }, "is a socket, not a regular file"],
    ];
    for (const [name, make, reason] of cases) {
      await t.step(name, async () => {
        const path = await make();
        const err = await bounded(
          readSecretsFile(path).then(
            () => assert.fail("read"),
            (e) => e,
          ),
          `readSecretsFile(${name})`,
        );
        assert.ok(err instanceof SecretsReadError, String(err));
        assert.equal(err.reason, reason);

        const report = await bounded(
          inspectSecretsFile(path, { displayName: "secrets.json" }),
          `inspectSecretsFile(${name})`,
        );
        assert.deepEqual(messages(report.errors), [
          `Cannot read secrets file "secrets.json": ${reason}`,
        ]);
      });
    }
  } finally {
    for (const listener of listeners) listener.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readSecretsFile stops at its size cap whatever stat says", async (t) => {
  const dir = Deno.makeTempDirSync();
  try {
    await t.step("a regular file that stat says is too large", async () => {
      const path = join(dir, "big.json");
      Deno.writeFileSync(path, new Uint8Array(MAX_SECRETS_FILE_BYTES + 1));
      const report = await inspectSecretsFile(path, { displayName: "big" });
      assert.deepEqual(messages(report.errors), [
        `Cannot read secrets file "big": too large (${
          MAX_SECRETS_FILE_BYTES + 1
        } bytes; at most ${MAX_SECRETS_FILE_BYTES})`,
      ]);
    });
    await t.step("exactly at the cap is read whole", async () => {
      const path = join(dir, "full.json");
      Deno.writeFileSync(path, new Uint8Array(MAX_SECRETS_FILE_BYTES));
      const read = await readSecretsFile(path);
      assert.equal(read.bytes.length, MAX_SECRETS_FILE_BYTES);
      assert.ok(read.info.isFile);
    });
    await t.step(
      "a regular file that stat says is empty but reads without end",
      async () => {
        // /proc/self/pagemap: a regular file of size 0 that yields 8 bytes
        // for every page of the address space (hundreds of GB for V8).
        const info = Deno.statSync("/proc/self/pagemap");
        assert.ok(info.isFile && info.size === 0);
        const rssBefore = Deno.memoryUsage().rss;
        const report = await bounded(
          inspectSecretsFile("/proc/self/pagemap", { displayName: "pm" }),
          "inspectSecretsFile(/proc/self/pagemap)",
        );
        assert.deepEqual(messages(report.errors), [
          `Cannot read secrets file "pm": too large (more than ${MAX_SECRETS_FILE_BYTES} bytes, the most that is read)`,
        ]);
        const grown = Deno.memoryUsage().rss - rssBefore;
        assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${grown} bytes`);
      },
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loadSecrets hands a repeated key's warning to onWarning", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "secrets.json");
    Deno.writeTextFileSync(
      path,
      '[{"clientId": "a", "clientId": "b", "clientSecret": "s", "tenant": "t"}]',
    );
    Deno.chmodSync(path, 0o600);
    const warnings: string[] = [];
    const credentials = await loadSecrets(path, {
      displayName: "secrets.json",
      onWarning: (w) => warnings.push(w.message),
    });
    assert.equal(credentials[0].clientId, "b");
    assert.deepEqual(warnings, [
      'secrets.json: entry 1: "clientId" appears twice, at line 1, column 3 and line 1, column 20; the last one is used',
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
