import assert from "node:assert/strict";
import {
  isLoopbackHost,
  parseCidrs,
  parseIpAddress,
} from "../../src/base/ip_filter.ts";

Deno.test("parseCidrs().allows() matches IPv4 ranges", async (t) => {
  const filter = parseCidrs(["10.0.0.0/8", "192.168.1.7", "172.16.0.0/12"]);
  await t.step("inside", () => {
    assert.equal(filter.allows("10.1.2.3"), true);
    assert.equal(filter.allows("192.168.1.7"), true);
    assert.equal(filter.allows("172.31.255.255"), true);
  });
  await t.step("outside", () => {
    assert.equal(filter.allows("11.0.0.1"), false);
    assert.equal(filter.allows("192.168.1.8"), false);
    assert.equal(filter.allows("172.32.0.0"), false);
  });
  await t.step("IPv4-mapped IPv6 client address matches an IPv4 range", () => {
    assert.equal(filter.allows("::ffff:10.9.8.7"), true);
    assert.equal(filter.allows("::ffff:11.9.8.7"), false);
  });
  await t.step("an IPv6 client never matches an IPv4 range", () => {
    assert.equal(filter.allows("::1"), false);
    assert.equal(filter.allows("2001:db8::1"), false);
  });
  await t.step("garbage is refused", () => {
    assert.equal(filter.allows("not-an-ip"), false);
    assert.equal(filter.allows(""), false);
  });
});

Deno.test("parseCidrs().allows() matches IPv6 ranges", async (t) => {
  const filter = parseCidrs(["2001:db8::/32", "::1", "fe80::/10"]);
  await t.step("inside", () => {
    assert.equal(filter.allows("2001:db8:1234::5"), true);
    assert.equal(filter.allows("2001:DB8::"), true);
    assert.equal(filter.allows("::1"), true);
    assert.equal(filter.allows("[::1]"), true);
    assert.equal(filter.allows("fe80::1%eth0"), true);
  });
  await t.step("outside", () => {
    assert.equal(filter.allows("2001:db9::1"), false);
    assert.equal(filter.allows("::2"), false);
    assert.equal(filter.allows("127.0.0.1"), false);
  });
  await t.step("a mapped IPv6 range matches IPv4 clients", () => {
    const mapped = parseCidrs(["::ffff:10.0.0.0/104"]);
    assert.equal(mapped.allows("10.200.0.1"), true);
    assert.equal(mapped.allows("11.0.0.1"), false);
  });
});

Deno.test("parseCidrs() edge prefixes", async (t) => {
  await t.step("/0 matches every address of its family", () => {
    assert.equal(parseCidrs(["0.0.0.0/0"]).allows("203.0.113.9"), true);
    assert.equal(parseCidrs(["0.0.0.0/0"]).allows("2001:db8::1"), false);
    assert.equal(parseCidrs(["::/0"]).allows("2001:db8::1"), true);
  });
  await t.step("host bits are masked away", () => {
    assert.equal(parseCidrs(["10.1.2.3/8"]).allows("10.200.0.1"), true);
  });
  await t.step("an empty list allows everyone", () => {
    assert.equal(parseCidrs([]).allows("203.0.113.9"), true);
  });
});

Deno.test("parseCidrs() names the bad entry", async (t) => {
  for (
    const bad of [
      "10.0.0.0/33",
      "::/129",
      "10.0.0/8",
      "256.0.0.1",
      "010.0.0.1",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "fe80::1%eth0",
      "10.0.0.0/",
      "10.0.0.0/a",
      "example.com",
      "",
    ]
  ) {
    await t.step(JSON.stringify(bad), () => {
      assert.throws(
        () => parseCidrs(["127.0.0.1", bad]),
        (err: Error) =>
          err instanceof TypeError && err.message.includes(`"${bad}"`),
      );
    });
  }
});

Deno.test("parseIpAddress() reads every IPv6 spelling", () => {
  const full = parseIpAddress("0:0:0:0:0:ffff:a00:1");
  assert.equal(parseIpAddress("::ffff:10.0.0.1"), full);
  assert.equal(parseIpAddress("10.0.0.1"), full);
  assert.equal(parseIpAddress("::1.2.3.4"), 0x01020304n);
  assert.equal(parseIpAddress("1::"), 1n << 112n);
  assert.equal(
    parseIpAddress("1:2:3:4:5:6:7::"),
    parseIpAddress("1:2:3:4:5:6:7:0"),
  );
  assert.equal(parseIpAddress("::"), 0n);
  assert.equal(
    parseIpAddress("1:2:3:4:5:6:1.2.3.4"),
    parseIpAddress("1:2:3:4:5:6:102:304"),
  );
  assert.equal(parseIpAddress("1:2:3:4:5:6:7:1.2.3.4"), null);
  assert.equal(parseIpAddress("12345::"), null);
});

Deno.test("isLoopbackHost() knows loopback from the rest", () => {
  for (
    const host of [
      "127.0.0.1",
      "127.1.2.3",
      "::1",
      "[::1]",
      "localhost",
      "::ffff:127.0.0.1",
    ]
  ) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (
    const host of ["0.0.0.0", "::", "192.168.1.10", "example.com", "128.0.0.1"]
  ) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});
