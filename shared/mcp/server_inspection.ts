/**
 * The MCP conversation of a probe, on whatever transport it is given: connect (discovery or
 * handshake), read the server's identity and capabilities, list its tools page by page, ping
 * where the era has `ping`, then close the session.
 */
import {
  Client,
  SdkError,
  SdkErrorCode,
  type Transport,
  type VersionNegotiationMode,
} from "@modelcontextprotocol/client";
import type { ProtocolEra, ServerInfo } from "../schemas/test_result.ts";
import { RESULT_BOUNDS, TOOL_NAMES_LIMIT } from "../schemas/test_result.ts";
import { boundText } from "./result_bounds.ts";

/** How far past the probe's deadline the SDK's own request timeouts are set. */
const SDK_TIMEOUT_SLACK_MS = 250;

/** What the conversation found; filled in as it goes, so a failure still reports the start. */
export interface Findings {
  era: ProtocolEra | null;
  protocolVersion: string | null;
  serverInfo: ServerInfo | null;
  capabilities: string[];
  tools: string[];
  toolCount: number | null;
  /** Whether tool names were cut or left out to fit the result's bounds. */
  truncated: boolean;
}

/** How the conversation runs. */
export interface InspectionOptions {
  readonly negotiation: VersionNegotiationMode;
  /** Milliseconds left of the probe's deadline, asked before each request. */
  readonly remainingMs: () => number;
  /** Aborts every request. */
  readonly signal: AbortSignal;
  /** The most `tools/list` pages to follow. */
  readonly maxToolPages: number;
  readonly clientInfo: { readonly name: string; readonly version: string };
  /** Errors the SDK reports on the side (malformed messages, broken streams). */
  readonly onTransportError: (error: Error) => void;
}

/** Empty findings, before anything was learned. */
export function emptyFindings(): Findings {
  return {
    era: null,
    protocolVersion: null,
    serverInfo: null,
    capabilities: [],
    tools: [],
    toolCount: null,
    truncated: false,
  };
}

/** A client for one probe conversation, advertising no capabilities of its own. */
export function createProbeClient(options: InspectionOptions): Client {
  const client = new Client(
    { name: options.clientInfo.name, version: options.clientInfo.version },
    {
      capabilities: {},
      versionNegotiation: { mode: options.negotiation },
    },
  );
  client.onerror = options.onTransportError;
  return client;
}

/**
 * Runs the conversation with `client` over `transport`, writing into `findings` as it learns.
 * Rejects with the SDK's error; the caller closes the client either way.
 */
export async function inspectServer(
  client: Client,
  transport: Transport,
  findings: Findings,
  options: InspectionOptions,
): Promise<void> {
  // The SDK's own timeouts are a backstop a little past the deadline: the deadline (the
  // signal, and the caller's race) ends a silent server first, with its own message.
  const requestOptions = () => ({
    timeout: options.remainingMs() + SDK_TIMEOUT_SLACK_MS,
    signal: options.signal,
  });

  await client.connect(transport, requestOptions());
  findings.era = client.getProtocolEra() ?? null;
  findings.protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
  findings.serverInfo = serverInfoOf(client);
  const capabilities = client.getServerCapabilities() ?? {};
  findings.capabilities = Object.entries(capabilities)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([name]) => name);

  if (capabilities.tools) {
    findings.toolCount = await listTools(client, findings, options.maxToolPages, requestOptions);
  } else {
    findings.toolCount = 0;
  }
  if (findings.era === "legacy") await client.ping(requestOptions());
}

/**
 * Lists the tools page by page, keeping of each page only what the result stores (the first
 * tool names, cut to their bound, and a count), so that a probe never holds more than one
 * page; the SDK's own `listTools()` would gather every page's tools first. Resolves with the
 * number of tools listed; rejects with `ListPaginationExceeded` when the listing goes on past
 * `maxPages` pages (the byte bounds of the guarded fetch stop huge pages before).
 */
async function listTools(
  client: Client,
  findings: Findings,
  maxPages: number,
  requestOptions: () => { timeout: number; signal: AbortSignal },
): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  for (let page = 1;; page++) {
    const result = await client.request(
      { method: "tools/list", ...(cursor === undefined ? {} : { params: { cursor } }) },
      requestOptions(),
    );
    count += result.tools.length;
    for (const tool of result.tools) {
      if (findings.tools.length >= TOOL_NAMES_LIMIT) {
        findings.truncated = true;
        break;
      }
      const name = boundText(tool.name, RESULT_BOUNDS.toolNameLength);
      if (name.cut) findings.truncated = true;
      findings.tools.push(name.text);
    }
    cursor = result.nextCursor;
    if (cursor === undefined) return count;
    if (page >= maxPages) {
      throw new SdkError(
        SdkErrorCode.ListPaginationExceeded,
        `tools/list did not end within ${maxPages} pages (${count} tools so far)`,
        { method: "tools/list", listMaxPages: maxPages },
      );
    }
  }
}

function serverInfoOf(client: Client): ServerInfo | null {
  const info = client.getServerVersion();
  if (info === undefined) return null;
  return {
    name: info.name,
    version: info.version,
    ...(typeof info.title === "string" ? { title: info.title } : {}),
  };
}
