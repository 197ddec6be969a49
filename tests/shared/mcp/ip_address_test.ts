import assert from "node:assert/strict";
import {
  cidrContains,
  embeddedIpv4,
  formatCidr,
  formatIpAddress,
  type IpAddress,
  parseCidr,
  parseIpAddress,
  parseIpv4,
  parseIpv6,
} from "../../../shared/mcp/ip_address.ts";

function ip(text: string): IpAddress {
  const address = parseIpAddress(text);
  assert.ok(address, `${text} should parse`);
  return address;
}

Deno.test("parseIpv4 reads dotted quads and rejects everything else", async (t) => {
  await t.step("valid addresses", () => {
    assert.deepEqual(parseIpv4("0.0.0.0"), { family: 4, value: 0 });
    assert.deepEqual(parseIpv4("127.0.0.1"), { family: 4, value: 0x7f000001 });
    assert.deepEqual(parseIpv4("255.255.255.255"), { family: 4, value: 0xffffffff });
  });
  await t.step("malformed or non-decimal forms", () => {
    for (
      const text of [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "256.0.0.1",
        "01.2.3.4",
        "0x7f.0.0.1",
        "1.2.3.-4",
        "a.b.c.d",
        "1..2.3",
      ]
    ) {
      assert.equal(parseIpv4(text), null, text);
    }
  });
});

Deno.test("parseIpv6 reads every textual form of an IPv6 address", async (t) => {
  const cases: [string, bigint][] = [
    ["::", 0n],
    ["::1", 1n],
    ["[::1]", 1n],
    ["1::", 1n << 112n],
    ["fe80::1", (0xfe80n << 112n) | 1n],
    ["2001:db8:0:0:0:0:2:1", (0x20010db8n << 96n) | (2n << 16n) | 1n],
    ["::ffff:127.0.0.1", (0xffffn << 32n) | 0x7f000001n],
    ["::ffff:7f00:1", (0xffffn << 32n) | 0x7f000001n],
    ["64:ff9b::10.0.0.1", (0x64ff9bn << 96n) | 0x0a000001n],
    ["1:2:3:4:5:6:1.2.3.4", 0x0001000200030004000500060102_0304n],
    ["FD00:EC2::254", (0xfd000ec2n << 96n) | 0x254n],
  ];
  for (const [text, value] of cases) {
    await t.step(text, () => assert.deepEqual(parseIpv6(text), { family: 6, value }));
  }
  await t.step("malformed forms", () => {
    for (
      const text of [
        "",
        ":",
        ":::",
        "1:2:3:4:5:6:7:8:9",
        "1::2::3",
        "12345::",
        "g::1",
        "::1%eth0",
        "1:2:3:4:5:6:7",
        "::1.2.3",
        "[::1",
      ]
    ) {
      assert.equal(parseIpv6(text), null, text);
    }
  });
});

Deno.test("formatIpAddress writes canonical text that parses back", async (t) => {
  const cases: [string, string][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["::", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["fe80:0:0:0:0:0:0:0", "fe80::"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["::ffff:10.1.2.3", "::ffff:a01:203"],
  ];
  for (const [text, canonical] of cases) {
    await t.step(text, () => {
      assert.equal(formatIpAddress(ip(text)), canonical);
      assert.deepEqual(ip(canonical), ip(text));
    });
  }
});

Deno.test("parseCidr reads ranges and refuses host bits and bad prefixes", async (t) => {
  await t.step("ranges and bare addresses", () => {
    assert.equal(formatCidr(parseCidr("10.0.0.0/8")!), "10.0.0.0/8");
    assert.equal(formatCidr(parseCidr("127.0.0.1")!), "127.0.0.1/32");
    assert.equal(formatCidr(parseCidr("::1")!), "::1/128");
    assert.equal(formatCidr(parseCidr(" fc00::/7 ")!), "fc00::/7");
    assert.equal(formatCidr(parseCidr("0.0.0.0/0")!), "0.0.0.0/0");
  });
  await t.step("rejects", () => {
    for (
      const text of [
        "10.0.0.1/8",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/",
        "10.0.0.0/x",
        "10.0.0.0/08",
        "host/8",
        "",
      ]
    ) {
      assert.equal(parseCidr(text), null, text);
    }
  });
});

Deno.test("cidrContains tests membership within one family only", async (t) => {
  const cases: [string, string, boolean][] = [
    ["10.0.0.0/8", "10.255.1.2", true],
    ["10.0.0.0/8", "11.0.0.0", false],
    ["172.16.0.0/12", "172.31.255.255", true],
    ["172.16.0.0/12", "172.32.0.0", false],
    ["0.0.0.0/0", "8.8.8.8", true],
    ["127.0.0.1/32", "127.0.0.1", true],
    ["127.0.0.1/32", "127.0.0.2", false],
    ["fc00::/7", "fd12:3456::1", true],
    ["fc00::/7", "fe00::1", false],
    ["::/0", "2001:db8::1", true],
    ["10.0.0.0/8", "::ffff:10.0.0.1", false],
  ];
  for (const [range, address, expected] of cases) {
    await t.step(`${address} in ${range}: ${expected}`, () => {
      assert.equal(cidrContains(parseCidr(range)!, ip(address)), expected);
    });
  }
});

Deno.test("embeddedIpv4 finds the IPv4 host behind mapped, NAT64 and 6to4 addresses", async (t) => {
  const cases: [string, string | null][] = [
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::ffff:a9fe:a9fe", "169.254.169.254"],
    ["64:ff9b::192.168.1.1", "192.168.1.1"],
    ["2002:7f00:1::1", "127.0.0.1"],
    ["2002:0a00:0001:1::", "10.0.0.1"],
    ["::127.0.0.1", null],
    ["::1", null],
    ["2001:db8::1", null],
    ["10.0.0.1", null],
  ];
  for (const [text, expected] of cases) {
    await t.step(text, () => {
      const embedded = embeddedIpv4(ip(text));
      assert.equal(embedded === null ? null : formatIpAddress(embedded), expected);
    });
  }
});
