/**
 * Every string a result stores comes from the server in the end (names, versions, capability
 * keys, error text): cut to its bound, made storable, and the whole result fitted into
 * `RESULT_BOUNDS.serializedBytes`, so that whatever one server answers affects its own result
 * only: its size, and whether it can be written at all. PostgreSQL's `jsonb` refuses the NUL
 * character and unpaired surrogates (a result holding one would fail the write it is part of,
 * a health check's whole batch included), so both become U+FFFD.
 */
import {
  type ConnectionTestResult,
  RESULT_BOUNDS,
  serializedBytes,
  TOOL_NAMES_LIMIT,
} from "../schemas/test_result.ts";

const ELLIPSIS = "…";

/** A string cut to a bound, and whether it had to be cut. */
export interface BoundedText {
  readonly text: string;
  readonly cut: boolean;
}

/**
 * `text` made storable (no NUL, no unpaired surrogate) and at most `max` UTF-16 units long;
 * a cut one ends in "…" and never splits a surrogate pair. Replacing characters is not a cut.
 */
export function boundText(text: string, max: number): BoundedText {
  const head = text.length > max ? text.slice(0, max + 1) : text;
  const clean = storable(head);
  if (text.length <= max) return { text: clean, cut: false };
  let end = max - ELLIPSIS.length;
  const last = clean.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return { text: clean.slice(0, end) + ELLIPSIS, cut: true };
}

/** `text` without what `jsonb` refuses: NUL and unpaired surrogates become U+FFFD. */
function storable(text: string): string {
  return text.toWellFormed().replaceAll("\u0000", "\ufffd");
}

/**
 * The result with every field within `RESULT_BOUNDS` and `truncated: true` if anything was cut:
 * strings cut, capability and tool names beyond their counts dropped, then tool names dropped
 * from the end until the whole result fits its byte bound.
 */
export function boundResult(result: ConnectionTestResult): ConnectionTestResult {
  let cut = result.truncated === true;
  const bound = (text: string, max: number): string => {
    const bounded = boundText(text, max);
    if (bounded.cut) cut = true;
    return bounded.text;
  };
  const boundAll = (texts: readonly string[], count: number, max: number): string[] => {
    if (texts.length > count) cut = true;
    return texts.slice(0, count).map((text) => bound(text, max));
  };

  const { serverInfo, error } = result;
  const bounded: ConnectionTestResult = {
    ...result,
    error: error === null
      ? null
      : { ...error, message: bound(error.message, RESULT_BOUNDS.errorMessageLength) },
    capabilities: boundAll(
      result.capabilities,
      RESULT_BOUNDS.capabilities,
      RESULT_BOUNDS.capabilityNameLength,
    ),
    serverInfo: serverInfo === null ? null : {
      name: bound(serverInfo.name, RESULT_BOUNDS.serverInfoFieldLength),
      version: bound(serverInfo.version, RESULT_BOUNDS.serverInfoFieldLength),
      ...(serverInfo.title === undefined
        ? {}
        : { title: bound(serverInfo.title, RESULT_BOUNDS.serverInfoFieldLength) }),
    },
    protocolVersion: result.protocolVersion === null
      ? null
      : bound(result.protocolVersion, RESULT_BOUNDS.protocolVersionLength),
    tools: boundAll(result.tools, TOOL_NAMES_LIMIT, RESULT_BOUNDS.toolNameLength),
  };
  if (cut) bounded.truncated = true;
  return fitTools(bounded);
}

/**
 * Drops tool names from the end until the result fits its byte bound (only names full of
 * characters JSON escapes, e.g. control characters, can make it not fit). Every other field
 * is bounded small enough to fit with no tools at all.
 */
function fitTools(result: ConnectionTestResult): ConnectionTestResult {
  if (serializedBytes(result) <= RESULT_BOUNDS.serializedBytes) return result;
  const withTools = (count: number): ConnectionTestResult => ({
    ...result,
    tools: result.tools.slice(0, count),
    truncated: true,
  });
  // The most tools that fit: binary search over the count.
  let fits = 0;
  let tooMany = result.tools.length;
  while (tooMany - fits > 1) {
    const middle = Math.floor((fits + tooMany) / 2);
    if (serializedBytes(withTools(middle)) <= RESULT_BOUNDS.serializedBytes) fits = middle;
    else tooMany = middle;
  }
  return withTools(fits);
}
