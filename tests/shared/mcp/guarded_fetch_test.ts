/**
 * The guarded fetch on its own: the body bound (and when a body is handed back as the runtime
 * gave it), the signals a request is bound to, the SSRF check of every request, and the headers
 * it sends.
 */
import assert from "node:assert/strict";
import { AttemptTrace } from "../../../shared/mcp/attempt_trace.ts";
import { createGuardedFetch, type GuardedFetch } from "../../../shared/mcp/guarded_fetch.ts";
import type { HostResolver } from "../../../shared/mcp/host_resolver.ts";
import { type IpAddress, parseIpAddress } from "../../../shared/mcp/ip_address.ts";
import { type NetworkPolicy, parseNetworkPolicy } from "../../../shared/mcp/network_policy.ts";
import { NetworkRefusal } from "../../../shared/mcp/probe_errors.ts";
import { LOOPBACK_POLICY } from "../../_support/mcp_servers.ts";

const encoder = new TextEncoder();

/** A guarded fetch with loopback allowed, its trace, and the controller of its attempt signal. */
function guarded(
  overrides: {
    maxBodyBytes?: number;
    customHeaders?: Record<string, string>;
    origin?: string;
    policy?: NetworkPolicy;
    resolver?: HostResolver;
    pinningClient?: () => Deno.HttpClient | undefined;
  } = {},
): { fetch: GuardedFetch; trace: AttemptTrace; attempt: AbortController } {
  const trace = new AttemptTrace();
  const attempt = new AbortController();
  const fetch = createGuardedFetch({
    policy: overrides.policy ?? LOOPBACK_POLICY,
    resolver: overrides.resolver ??
      (() => Promise.resolve({ kind: "failed", message: "no names in this test" })),
    origin: overrides.origin ?? "http://127.0.0.1",
    customHeaders: overrides.customHeaders ?? {},
    maxBodyBytes: overrides.maxBodyBytes ?? 1024,
    maxRedirects: 3,
    signal: attempt.signal,
    trace,
    ...(overrides.pinningClient ? { pinningClient: overrides.pinningClient } : {}),
  });
  return { fetch, trace, attempt };
}

/**
 * A raw TCP server answering every request with `head` and then `body` (bytes written in 16 KiB
 * pieces, as fast as the peer reads); with `hold`, the connection then stays open, silent.
 */
function rawServer(
  head: string,
  body: Uint8Array | (() => AsyncIterable<Uint8Array>) = new Uint8Array(),
  options: { hold?: boolean } = {},
): { url: string; connections: () => number; bytesWritten: () => number } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let connections = 0;
  let written = 0;
  const serve = async (conn: Deno.Conn) => {
    open.add(conn);
    const buffer = new Uint8Array(16 * 1024);
    let seen = "";
    while (!seen.includes("\r\n\r\n")) {
      const read = await conn.read(buffer);
      if (read === null) return;
      seen += new TextDecoder().decode(buffer.subarray(0, read));
    }
    await conn.write(encoder.encode(head));
    const pieces = body instanceof Uint8Array ? [body] : body();
    for await (const piece of pieces) {
      for (let offset = 0; offset < piece.byteLength; offset += 16 * 1024) {
        const slice = piece.subarray(offset, offset + 16 * 1024);
        await conn.write(slice);
        written += slice.byteLength;
      }
    }
    if (!options.hold) {
      open.delete(conn);
      conn.close();
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      connections++;
      serve(conn).catch(() => {});
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${listener.addr.port}/mcp`,
    connections: () => connections,
    bytesWritten: () => written,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // closed by the peer
        }
      }
    },
  };
}

/** An HTTP server on 127.0.0.1 that records each request's method, headers and body. */
function recordingServer(
  handler: (request: Request) => Response | Promise<Response> = () => new Response("{}"),
): {
  url: string;
  seen: { method: string; path: string; headers: Headers; body: string }[];
} & AsyncDisposable {
  const seen: { method: string; path: string; headers: Headers; body: string }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const body = await request.text();
      seen.push({
        method: request.method,
        path: new URL(request.url).pathname,
        headers: request.headers,
        body,
      });
      return handler(request);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/mcp`,
    seen,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

async function* repeat(piece: Uint8Array, times: number): AsyncIterable<Uint8Array> {
  for (let index = 0; index < times; index++) yield piece;
}

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const compressed = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(compressed).arrayBuffer());
}

async function assertBodyTooLarge(read: Promise<unknown>, trace: AttemptTrace): Promise<void> {
  await assert.rejects(read);
  assert.ok(trace.refusal instanceof NetworkRefusal, "the cut-off is recorded in the trace");
  assert.equal(trace.refusal.code, "body_too_large");
}

Deno.test("the guarded fetch bounds every body it hands back", async (t) => {
  await t.step("a Content-Length within the bound comes back whole", async () => {
    await using server = recordingServer(() => new Response("x".repeat(1000)));
    const { fetch, trace } = guarded({ maxBodyBytes: 1000 });
    const response = await fetch(server.url, { method: "POST", body: "{}" });
    assert.equal(response.headers.get("content-length"), "1000");
    assert.equal((await response.text()).length, 1000);
    assert.equal(trace.refusal, null);
  });
  await t.step(
    "a Content-Length body that arrives in pieces comes back byte for byte",
    async () => {
      const expected = Uint8Array.from({ length: 3000 }, (_, index) => index % 251);
      await using server = rawServer(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 3000\r\n\r\n",
        async function* () {
          for (let offset = 0; offset < expected.length; offset += 100) {
            yield expected.subarray(offset, offset + 100);
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        },
      );
      const { fetch, trace } = guarded({ maxBodyBytes: 3000 });
      const response = await fetch(server.url);
      assert.deepEqual(new Uint8Array(await response.arrayBuffer()), expected);
      assert.equal(trace.refusal, null);
    },
  );
  await t.step("an empty Content-Length body comes back empty", async () => {
    await using server = rawServer(
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n",
      new Uint8Array(),
    );
    const { fetch } = guarded();
    assert.equal(await (await fetch(server.url)).text(), "");
  });
  await t.step("a declared Content-Length over the bound fails before the body", async () => {
    await using server = recordingServer(() => new Response("x".repeat(1001)));
    const { fetch, trace } = guarded({ maxBodyBytes: 1000 });
    await assertBodyTooLarge(fetch(server.url), trace);
  });
  await t.step("the runtime reads no more than a Content-Length, whatever follows", async () => {
    // What the hand-back above relies on: the HTTP stack stops at the declared length.
    await using server = rawServer(
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n",
      () => repeat(new Uint8Array(64 * 1024).fill(0x41), 16),
    );
    const { fetch, trace } = guarded({ maxBodyBytes: 1000 });
    const response = await fetch(server.url);
    assert.equal((await response.arrayBuffer()).byteLength, 10);
    assert.equal(trace.refusal, null);
  });
  await t.step(
    "a Content-Length beside Transfer-Encoding: chunked is not trusted: counted, cut off",
    async () => {
      const chunk = new Uint8Array(4096).fill(0x41);
      const framed = new Uint8Array([
        ...encoder.encode("1000\r\n"),
        ...chunk,
        ...encoder.encode("\r\n"),
      ]);
      await using server = rawServer(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10\r\n" +
          "transfer-encoding: chunked\r\n\r\n",
        () => repeat(framed, 16 * 1024),
        { hold: true },
      );
      const { fetch, trace } = guarded({ maxBodyBytes: 16 * 1024 });
      const response = await fetch(server.url);
      await assertBodyTooLarge(response.arrayBuffer(), trace);
      // 64 MiB were on offer; reading stopped at the bound (socket buffers hold some more).
      assert.ok(server.bytesWritten() < 8 * 1024 * 1024, `${server.bytesWritten()} bytes sent`);
    },
  );
  await t.step(
    "a compressed body is counted as it decodes, not by its Content-Length",
    async () => {
      const packed = await gzip(new Uint8Array(1024 * 1024).fill(0x20));
      await using server = recordingServer(() =>
        new Response(packed, {
          headers: { "content-type": "application/json", "content-encoding": "gzip" },
        })
      );
      const { fetch, trace } = guarded({ maxBodyBytes: 64 * 1024 });
      const response = await fetch(server.url);
      assert.ok(Number(response.headers.get("content-length")) < 64 * 1024);
      await assertBodyTooLarge(response.arrayBuffer(), trace);
    },
  );
  await t.step("a body of no declared length is counted: whole within the bound", async () => {
    await using server = recordingServer(() =>
      new Response(
        ReadableStream.from(repeat(new Uint8Array(100).fill(0x41), 10)).pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>(),
        ),
      )
    );
    const { fetch, trace } = guarded({ maxBodyBytes: 1000 });
    const response = await fetch(server.url);
    assert.equal(response.headers.get("content-length"), null);
    assert.equal((await response.arrayBuffer()).byteLength, 1000);
    assert.equal(trace.refusal, null);
  });
  await t.step("... and cut off one byte past it", async () => {
    await using server = recordingServer(() =>
      new Response(ReadableStream.from(repeat(new Uint8Array(1001).fill(0x41), 1)))
    );
    const { fetch, trace } = guarded({ maxBodyBytes: 1000 });
    const response = await fetch(server.url);
    await assertBodyTooLarge(response.arrayBuffer(), trace);
  });
});

/** Resolves once `server` accepted more than `seen` connections: a request is in flight. */
async function inFlight(server: { connections: () => number }, seen = 0): Promise<void> {
  const until = performance.now() + 30_000;
  while (server.connections() <= seen) {
    if (performance.now() > until) throw new Error("the request never reached the server");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("the guarded fetch is bound to the attempt's signal and the request's", async (t) => {
  await t.step("the attempt's signal aborts a request in flight, with its reason", async () => {
    await using server = rawServer("", new Uint8Array(), { hold: true });
    const { fetch, attempt } = guarded();
    const pending = fetch(server.url, { signal: new AbortController().signal });
    const reason = new NetworkRefusal("deadline", "out of time");
    await inFlight(server);
    attempt.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
  });
  await t.step("the request's own signal aborts it, with its reason", async () => {
    await using server = rawServer("", new Uint8Array(), { hold: true });
    const { fetch } = guarded();
    const request = new AbortController();
    const pending = fetch(server.url, { signal: request.signal });
    const reason = new Error("the transport closed");
    await inFlight(server);
    request.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
  });
  await t.step("a signal the transport passes with many requests binds each of them", async () => {
    await using quick = recordingServer();
    await using silent = rawServer("", new Uint8Array(), { hold: true });
    const { fetch, attempt } = guarded();
    const transport = new AbortController();
    await (await fetch(quick.url, { signal: transport.signal })).text();
    const first = fetch(silent.url, { signal: transport.signal });
    const reason = new Error("the transport closed");
    await inFlight(silent);
    transport.abort(reason);
    await assert.rejects(first, (error) => error === reason);

    const { fetch: next, attempt: nextAttempt } = guarded();
    const shared = new AbortController();
    await (await next(quick.url, { signal: shared.signal })).text();
    const second = next(silent.url, { signal: shared.signal });
    const deadline = new NetworkRefusal("deadline", "out of time");
    await inFlight(silent, 1);
    nextAttempt.abort(deadline);
    await assert.rejects(second, (error) => error === deadline);
    attempt.abort();
  });
  await t.step("the attempt's signal stops a fixed-length body half read", async () => {
    await using server = rawServer(
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n",
      encoder.encode("{"),
      { hold: true },
    );
    const { fetch, attempt } = guarded();
    // A fixed-length body is read before the response is handed back: the read is the fetch's.
    const reading = fetch(server.url, { signal: new AbortController().signal })
      .then((response) => response.text());
    const deadline = new NetworkRefusal("deadline", "out of time");
    await inFlight(server);
    attempt.abort(deadline);
    await assert.rejects(reading, (error) => error === deadline);
  });
  await t.step("the attempt's signal ends an event stream nobody reads", async () => {
    let cancelled = 0;
    await using server = recordingServer(() =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(encoder.encode(": open\n\n"));
          },
          cancel() {
            cancelled++;
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      )
    );
    const { fetch, attempt } = guarded();
    const response = await fetch(server.url);
    assert.equal(response.status, 200);
    attempt.abort(new NetworkRefusal("cancelled", "the attempt is over"));
    await assert.rejects(response.text());
    // The server sees its stream cancelled once the connection closes.
    for (let wait = 0; cancelled === 0 && wait < 250; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(cancelled, 1);
  });
  await t.step("an attempt already over sends nothing", async () => {
    await using server = rawServer("", new Uint8Array(), { hold: true });
    const { fetch, attempt } = guarded();
    attempt.abort(new NetworkRefusal("cancelled", "over"));
    await assert.rejects(fetch(server.url, { signal: new AbortController().signal }));
    await assert.rejects(fetch(server.url));
    assert.equal(server.connections(), 0);
  });
});

Deno.test("the guarded fetch checks the target of every request", async (t) => {
  await t.step(
    "a host name is resolved again for every request: a changed answer is refused",
    async () => {
      await using server = recordingServer();
      const port = new URL(server.url).port;
      const answers = ["127.0.0.1", "127.0.0.1", "127.0.0.2"];
      const asked: string[] = [];
      const resolver: HostResolver = (hostname) => {
        asked.push(hostname);
        const address = parseIpAddress(answers[asked.length - 1] ?? "") as IpAddress;
        return Promise.resolve({ kind: "addresses", addresses: [address] });
      };
      const client = Deno.createHttpClient({ allowHost: true });
      try {
        const { fetch, trace } = guarded({
          policy: parseNetworkPolicy("127.0.0.1/32"),
          resolver,
          origin: `http://rebind.test:${port}`,
          pinningClient: () => client,
        });
        const url = `http://rebind.test:${port}/mcp`;
        await (await fetch(url)).text();
        await (await fetch(url)).text();
        await assert.rejects(fetch(url), (error) => {
          assert.ok(error instanceof NetworkRefusal);
          assert.equal(error.code, "blocked");
          return true;
        });
        assert.deepEqual(asked, ["rebind.test", "rebind.test", "rebind.test"]);
        assert.equal(server.seen.length, 2);
        assert.ok(
          server.seen.every((request) => request.headers.get("host") === `rebind.test:${port}`),
        );
        assert.equal(trace.requests, 2);
      } finally {
        client.close();
      }
    },
  );
  await t.step("a refused literal address is refused on every request", async () => {
    await using server = rawServer("", new Uint8Array(), { hold: true });
    const blocked = server.url.replace("127.0.0.1", "127.0.0.2");
    const { fetch, trace } = guarded({ policy: parseNetworkPolicy("127.0.0.1/32") });
    for (let request = 0; request < 3; request++) {
      await assert.rejects(fetch(blocked), (error) => {
        assert.ok(error instanceof NetworkRefusal);
        assert.equal(error.code, "blocked");
        return true;
      });
    }
    assert.equal(trace.requests, 0);
    assert.equal(server.connections(), 0);
  });
});

Deno.test("the guarded fetch sends the custom headers and leaves the transport's alone", async (t) => {
  await t.step("custom headers are added, the transport's own value wins", async () => {
    await using server = recordingServer();
    const { fetch } = guarded({
      origin: new URL(server.url).origin,
      customHeaders: { "X-Custom": "custom", Accept: "text/plain" },
    });
    const headers = new Headers({ accept: "application/json" });
    await (await fetch(server.url, { method: "POST", headers, body: "{}" })).text();
    await (await fetch(new URL(server.url), { method: "POST", headers, body: "{}" })).text();
    assert.equal(server.seen.length, 2);
    for (const request of server.seen) {
      assert.equal(request.headers.get("x-custom"), "custom");
      assert.equal(request.headers.get("accept"), "application/json");
    }
    assert.deepEqual([...headers], [["accept", "application/json"]]);
  });
  await t.step(
    "a 303 after a POST is followed with a GET; another origin gets no custom or auth header",
    async () => {
      await using target = recordingServer();
      await using redirector = recordingServer(() =>
        new Response(null, {
          status: 303,
          headers: { location: target.url.replace("127.0.0.1", "localhost") },
        })
      );
      const { fetch } = guarded({
        origin: new URL(redirector.url).origin,
        customHeaders: { "X-Custom": "custom" },
      });
      const headers = new Headers({
        "content-type": "application/json",
        authorization: "Bearer transport-token",
      });
      await (await fetch(redirector.url, { method: "POST", headers, body: "{}" })).text();
      assert.equal(redirector.seen[0]?.headers.get("x-custom"), "custom");
      const hop = target.seen[0];
      assert.ok(hop !== undefined, "the redirect was not followed");
      assert.equal(hop.method, "GET");
      assert.equal(hop.body, "");
      assert.equal(hop.headers.get("content-type"), null);
      assert.equal(hop.headers.get("authorization"), null);
      assert.equal(hop.headers.get("x-custom"), null);
      assert.equal(headers.get("authorization"), "Bearer transport-token");
      assert.equal(headers.get("content-type"), "application/json");
    },
  );
});
