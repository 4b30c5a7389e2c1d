import assert from "node:assert/strict";
import {
  argumentError,
  type CommandIo,
  EXIT,
  formatTable,
} from "../../src/cli/command.ts";

function captureIo(): CommandIo & { out: string; err: string } {
  const io = {
    env: {},
    cwd: "/",
    out: "",
    err: "",
    stdout(text: string) {
      io.out += text;
    },
    stderr(text: string) {
      io.err += text;
    },
  };
  return io;
}

Deno.test("argumentError() prints the message and the usage to stderr and returns 2", () => {
  const io = captureIo();
  const code = argumentError(io, "Unknown option '--x'", "Usage: x\n");
  assert.equal(code, EXIT.USAGE);
  assert.equal(code, 2);
  assert.equal(io.err, "error: Unknown option '--x'\nUsage: x\n");
  assert.equal(io.out, "");
});

Deno.test("EXIT names the three exit codes of every command", () => {
  assert.deepEqual(EXIT, { OK: 0, FAILURE: 1, USAGE: 2 });
});

Deno.test("formatTable() pads columns two spaces apart, without trailing spaces", async (t) => {
  await t.step("left-aligned", () => {
    assert.equal(
      formatTable([["NAME", "RPM", "MODELS"], ["a", "600", ""], [
        "longer",
        "0",
        "any",
      ]]),
      "NAME    RPM  MODELS\na       600\nlonger  0    any\n",
    );
  });
  await t.step("numbers right-aligned from a column on", () => {
    assert.equal(
      formatTable([["Model", "Requests"], ["gpt", "7"], ["Total", "1234"]], {
        rightAlignFrom: 1,
      }),
      "Model  Requests\ngpt           7\nTotal      1234\n",
    );
  });
});
