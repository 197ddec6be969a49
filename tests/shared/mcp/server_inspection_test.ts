/**
 * The probe's MCP conversation (`inspectServer`) over the SDK's in-memory transport, no HTTP:
 * what it reads from a discovery or `initialize` result (era, protocol version, server identity,
 * capabilities), how it pages `tools/list`, and how answers that break the protocol are
 * classified. The server is either the official server SDK's `Server` or a scripted peer that
 * answers each method with exactly what the test gives it.
 */
import assert from "node:assert/strict";
import { InMemoryTransport, type JSONRPCMessage } from "@modelcontextprotocol/client";
import { Server } from "@modelcontextprotocol/server";
import { AttemptTrace } from "../../../shared/mcp/attempt_trace.ts";
import { Deadline } from "../../../shared/mcp/deadline.ts";
import { classifyFailure, type ProbeFailure } from "../../../shared/mcp/failure.ts";
import {
  createProbeClient,
  emptyFindings,
  type Findings,
  type InspectionOptions,
  inspectServer,
} from "../../../shared/mcp/server_inspection.ts";
import { RESULT_BOUNDS, TOOL_NAMES_LIMIT } from "../../../shared/schemas/test_result.ts";
import { buildToolServer } from "../../_support/mcp_sdk_servers.ts";

/** What the scripted peer answers to a request: a result, or a JSON-RPC error. */
type Answer =
  | { readonly result: unknown }
  | { readonly error: { readonly code: number; readonly message: string } };
/** The scripted peer's answer to each method; a method it lacks gets "Method not found". */
type Script = Readonly<Record<string, (params: Record<string, unknown> | undefined) => Answer>>;

/** What one conversation found, how it failed (if it did), and what the server was asked. */
interface Conversation {
  readonly findings: Findings;
  readonly failure: ProbeFailure | null;
  /** The methods of the requests the server got, in order (notifications left out). */
  readonly asked: readonly string[];
  /** The `tools/list` cursors, in order (undefined for the first page). */
  readonly cursors: readonly (string | undefined)[];
}

interface ConverseOptions {
  readonly negotiation?: InspectionOptions["negotiation"];
  readonly maxToolPages?: number;
}

const MODERN = "2026-07-28";
/** How long a conversation may take before the test fails: only a hang gets near it. */
const HANG_DEADLINE_MS = 30_000;
const SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo";

/**
 * Runs the probe's conversation against `server`: a script, or the SDK's `Server`.
 */
async function converse(
  server: Script | Server,
  options: ConverseOptions = {},
): Promise<Conversation> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const asked: string[] = [];
  const cursors: (string | undefined)[] = [];
  const record = (message: JSONRPCMessage) => {
    if (!("method" in message) || !("id" in message)) return;
    asked.push(message.method);
    const params = message.params as Record<string, unknown> | undefined;
    if (message.method === "tools/list") cursors.push(params?.cursor as string | undefined);
  };
  if (server instanceof Server) {
    await server.connect(serverSide);
    const deliver = serverSide.onmessage;
    serverSide.onmessage = (message, extra) => {
      record(message);
      deliver?.(message, extra);
    };
  } else {
    const script = server;
    serverSide.onmessage = (message) => {
      record(message);
      if (!("method" in message) || !("id" in message)) return;
      const params = message.params as Record<string, unknown> | undefined;
      const handler = script[message.method];
      const answer: Answer = handler
        ? handler(params)
        : { error: { code: -32601, message: "Method not found" } };
      void serverSide.send({ jsonrpc: "2.0", id: message.id, ...answer } as JSONRPCMessage);
    };
    await serverSide.start();
  }

  const deadline = new Deadline(HANG_DEADLINE_MS);
  const trace = new AttemptTrace();
  const inspection: InspectionOptions = {
    negotiation: options.negotiation ?? "auto",
    remainingMs: () => deadline.remaining(),
    signal: deadline.signal,
    maxToolPages: options.maxToolPages ?? 100,
    clientInfo: { name: "probe-test", version: "1.0.0" },
    onTransportError: (error) => trace.noteTransportError(error),
  };
  const client = createProbeClient(inspection);
  const findings = emptyFindings();
  let failure: ProbeFailure | null = null;
  try {
    await inspectServer(client, clientSide, findings, inspection);
  } catch (error) {
    failure = classifyFailure(error, { trace, deadline });
  } finally {
    await client.close();
    await serverSide.close();
    deadline.dispose();
  }
  assert.equal(deadline.expired, false, "the conversation hung until the test's deadline");
  return { findings, failure, asked, cursors };
}

/** A modern (2026-07-28) server's discovery result. */
function discovery(
  capabilities: Record<string, unknown>,
  serverInfo: Record<string, unknown> = { name: "scripted", version: "2.0.0" },
): Answer {
  return {
    result: {
      supportedVersions: [MODERN],
      capabilities,
      resultType: "complete",
      _meta: { [SERVER_INFO_KEY]: serverInfo },
    },
  };
}

/** A handshake-era `initialize` result. */
function initialized(
  protocolVersion: string,
  capabilities: Record<string, unknown>,
  serverInfo: unknown = { name: "scripted", version: "2.0.0" },
): Answer {
  return { result: { protocolVersion, capabilities, serverInfo } };
}

/** A `tools/list` page of `names`, naming `nextCursor` if given. */
function toolsPage(names: readonly string[], nextCursor?: string): Answer {
  const tools = names.map((name) => ({ name, inputSchema: { type: "object", properties: {} } }));
  return { result: nextCursor === undefined ? { tools } : { tools, nextCursor } };
}

/** The same page as a modern server sends it: a 2026-07-28 list result names its type and cache. */
function modernToolsPage(names: readonly string[]): Answer {
  const page = toolsPage(names) as { result: Record<string, unknown> };
  return { result: { ...page.result, resultType: "complete", ttlMs: 0, cacheScope: "private" } };
}

/** A scripted server of the handshake era that lists `pages` (cursor = the page index). */
function handshakeScript(pages: readonly (readonly string[])[]): Script {
  return {
    initialize: () => initialized("2025-06-18", { tools: {} }),
    "tools/list": (params) => {
      const page = Number(params?.cursor ?? "0");
      return toolsPage(pages[page] ?? [], page + 1 < pages.length ? String(page + 1) : undefined);
    },
    ping: () => ({ result: {} }),
  };
}

function assertFailed(conversation: Conversation, errorClass: string, message?: RegExp): void {
  assert.ok(conversation.failure, `expected a ${errorClass} failure, the conversation succeeded`);
  assert.equal(conversation.failure.class, errorClass, conversation.failure.message);
  assert.equal(conversation.failure.transient, false);
  if (message) assert.match(conversation.failure.message, message);
}

Deno.test("inspectServer reads a discovery result (protocol 2026-07-28)", async (t) => {
  await t.step("era, version, identity with title, the capabilities the SDK knows", async () => {
    const talk = await converse({
      "server/discover": () =>
        discovery(
          { logging: {}, resources: { subscribe: true }, tools: {}, "x-vendor": { on: true } },
          { name: "scripted", version: "2.0.0", title: "A Scripted Server" },
        ),
      "tools/list": () => modernToolsPage(["a", "b"]),
    });
    assert.equal(talk.failure, null, talk.failure?.message);
    // The SDK's schema keeps the capabilities it knows (in its own order) and drops the rest.
    assert.deepEqual([...talk.findings.capabilities].sort(), ["logging", "resources", "tools"]);
    assert.deepEqual(talk.findings, {
      era: "modern",
      protocolVersion: MODERN,
      serverInfo: { name: "scripted", version: "2.0.0", title: "A Scripted Server" },
      capabilities: talk.findings.capabilities,
      tools: ["a", "b"],
      toolCount: 2,
      truncated: false,
    });
    assert.deepEqual(talk.asked, ["server/discover", "tools/list"], "no initialize, no ping");
  });

  await t.step("a serverInfo without title has no title key", async () => {
    const talk = await converse({
      "server/discover": () => discovery({ tools: {} }),
      "tools/list": () => modernToolsPage([]),
    });
    assert.deepEqual(talk.findings.serverInfo, { name: "scripted", version: "2.0.0" });
  });

  await t.step("a modern result without its resultType: invalid_response", async () => {
    const talk = await converse({
      "server/discover": () => discovery({ tools: {} }),
      "tools/list": () => toolsPage(["a"]),
    });
    assertFailed(talk, "invalid_response", /missing required resultType/);
    assert.equal(talk.findings.era, "modern", "what discovery found is kept");
  });

  await t.step("no tools capability: tools/list is not asked, and the count is 0", async () => {
    const talk = await converse({ "server/discover": () => discovery({ prompts: {} }) });
    assert.equal(talk.failure, null, talk.failure?.message);
    assert.deepEqual(talk.asked, ["server/discover"]);
    assert.equal(talk.findings.toolCount, 0);
    assert.deepEqual(talk.findings.tools, []);
    assert.deepEqual(talk.findings.capabilities, ["prompts"]);
  });
});

Deno.test("inspectServer negotiates the handshake era with the SDK's server", async (t) => {
  for (const version of ["2025-11-25", "2025-06-18", "2025-03-26"]) {
    await t.step(`a ${version}-only server is met at its version, and pinged`, async () => {
      const talk = await converse(buildToolServer({ tools: 2, name: "sdk" }, [version]));
      assert.equal(talk.failure, null, talk.failure?.message);
      assert.equal(talk.findings.era, "legacy");
      assert.equal(talk.findings.protocolVersion, version);
      assert.deepEqual(talk.findings.serverInfo, { name: "sdk", version: "1.0.0" });
      assert.deepEqual([...talk.findings.capabilities].sort(), ["logging", "tools"]);
      assert.deepEqual(talk.findings.tools, ["tool_0", "tool_1"]);
      assert.deepEqual(talk.asked, ["server/discover", "initialize", "tools/list", "ping"]);
    });
  }

  await t.step("an initialize result's capabilities, those the SDK knows", async () => {
    const talk = await converse({
      ...handshakeScript([[]]),
      initialize: () =>
        initialized("2025-06-18", { tools: {}, "x-vendor": { on: true }, prompts: {} }),
    });
    assert.equal(talk.failure, null, talk.failure?.message);
    // As in a discovery result, the SDK's schema drops keys it does not know.
    assert.deepEqual([...talk.findings.capabilities].sort(), ["prompts", "tools"]);
  });

  await t.step("the legacy negotiation (a hint, or SSE) goes straight to initialize", async () => {
    const talk = await converse(buildToolServer({ tools: 1 }, ["2025-06-18"]), {
      negotiation: "legacy",
    });
    assert.equal(talk.failure, null, talk.failure?.message);
    assert.equal(talk.findings.protocolVersion, "2025-06-18");
    assert.deepEqual(talk.asked, ["initialize", "tools/list", "ping"]);
  });
});

Deno.test("inspectServer follows tools/list pages and bounds what it keeps", async (t) => {
  await t.step("every page is followed by its cursor; the count sums the pages", async () => {
    const talk = await converse(handshakeScript([["a", "b"], ["c"], ["d", "e"]]));
    assert.equal(talk.failure, null, talk.failure?.message);
    assert.deepEqual(talk.cursors, [undefined, "1", "2"]);
    assert.deepEqual(talk.findings.tools, ["a", "b", "c", "d", "e"]);
    assert.equal(talk.findings.toolCount, 5);
    assert.equal(talk.findings.truncated, false);
  });

  await t.step(`names past the first ${TOOL_NAMES_LIMIT} are counted, not kept`, async () => {
    const names = Array.from({ length: TOOL_NAMES_LIMIT + 7 }, (_, i) => `t${i}`);
    const talk = await converse(handshakeScript([names.slice(0, 60), names.slice(60)]));
    assert.equal(talk.failure, null, talk.failure?.message);
    assert.equal(talk.findings.toolCount, TOOL_NAMES_LIMIT + 7);
    assert.deepEqual(talk.findings.tools, names.slice(0, TOOL_NAMES_LIMIT));
    assert.equal(talk.findings.truncated, true);
  });

  await t.step("a name over its bound is cut, ending in an ellipsis", async () => {
    const long = "n".repeat(RESULT_BOUNDS.toolNameLength + 1);
    const exact = "e".repeat(RESULT_BOUNDS.toolNameLength);
    const talk = await converse(handshakeScript([[exact, long]]));
    assert.equal(talk.failure, null, talk.failure?.message);
    assert.equal(talk.findings.tools[0], exact, "a name at its bound is kept whole");
    assert.equal(talk.findings.tools[1]!.length, RESULT_BOUNDS.toolNameLength);
    assert.ok(talk.findings.tools[1]!.endsWith("…"));
    assert.equal(talk.findings.truncated, true);
  });

  await t.step("pages without end stop at maxToolPages: invalid_response", async () => {
    const talk = await converse({
      initialize: () => initialized("2025-06-18", { tools: {} }),
      "tools/list": (params) => {
        const page = Number(params?.cursor ?? "0");
        return toolsPage([`p${page}`], String(page + 1));
      },
    }, { maxToolPages: 4 });
    assertFailed(talk, "invalid_response", /did not end within 4 pages \(4 tools so far\)/);
    assert.equal(talk.cursors.length, 4, "no page past the limit is asked for");
    assert.deepEqual(talk.findings.tools, ["p0", "p1", "p2", "p3"], "what was read is kept");
  });
});

Deno.test("inspectServer classifies answers that break the protocol", async (t) => {
  await t.step("a protocol version the client does not speak: protocol", async () => {
    const talk = await converse({ initialize: () => initialized("1999-01-01", { tools: {} }) });
    assertFailed(talk, "protocol", /1999-01-01/);
    assert.equal(talk.findings.era, null);
  });

  await t.step("an initialize result without serverInfo: invalid_response", async () => {
    const talk = await converse({
      initialize: () => ({ result: { protocolVersion: "2025-06-18", capabilities: {} } }),
    });
    assertFailed(talk, "invalid_response");
  });

  await t.step("initialize answered with a JSON-RPC error: protocol, with its code", async () => {
    const talk = await converse({
      initialize: () => ({ error: { code: -32603, message: "database on fire" } }),
    });
    assertFailed(talk, "protocol", /-32603: .*database on fire/);
  });

  await t.step("a tools/list page whose tool has no name: invalid_response", async () => {
    const talk = await converse({
      initialize: () => initialized("2025-06-18", { tools: {} }),
      "tools/list": () => ({ result: { tools: [{ inputSchema: { type: "object" } }] } }),
    });
    assertFailed(talk, "invalid_response");
    assert.equal(talk.findings.era, "legacy", "what the handshake found is kept");
    assert.equal(talk.findings.protocolVersion, "2025-06-18");
  });

  await t.step("tools that is not a list: invalid_response", async () => {
    const talk = await converse({
      initialize: () => initialized("2025-06-18", { tools: {} }),
      "tools/list": () => ({ result: { tools: "all of them" } }),
    });
    assertFailed(talk, "invalid_response");
  });

  await t.step("tools/list answered with a JSON-RPC error: protocol", async () => {
    const talk = await converse({
      initialize: () => initialized("2025-06-18", { tools: {} }),
      "tools/list": () => ({ error: { code: -32601, message: "Method not found" } }),
    });
    assertFailed(talk, "protocol", /-32601/);
    assert.equal(talk.findings.toolCount, null, "no count without a listing");
  });

  await t.step("a ping answered with an error fails the handshake era: protocol", async () => {
    const talk = await converse({
      ...handshakeScript([["a"]]),
      ping: () => ({ error: { code: -32000, message: "no pings here" } }),
    });
    assertFailed(talk, "protocol", /no pings here/);
    assert.equal(talk.findings.toolCount, 1);
  });
});
