/**
 * Splits a SQL script into statements, as the Supabase CLI does before it runs a
 * migration and records its statements in supabase_migrations.schema_migrations.
 * Understands quoted strings (E'' escapes included), quoted identifiers, dollar
 * quoting, and line and (nested) block comments. Statements keep their text as
 * written, without the terminating semicolon; empty ones are dropped.
 */
export function splitSqlStatements(script: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const n = script.length;

  const push = (end: number) => {
    const text = script.slice(start, end).trim();
    if (text !== "" && !isOnlyComments(text)) statements.push(text);
  };

  while (i < n) {
    const ch = script[i]!;
    const next = script[i + 1];
    if (ch === "-" && next === "-") {
      i = skipLineComment(script, i);
    } else if (ch === "/" && next === "*") {
      i = skipBlockComment(script, i);
    } else if (ch === "'") {
      const escapes = i > 0 && /[eE]/.test(script[i - 1]!) && !/\w/.test(script[i - 2] ?? "");
      i = skipQuoted(script, i, "'", escapes);
    } else if (ch === '"') {
      i = skipQuoted(script, i, '"', false);
    } else if (ch === "$") {
      const tag = dollarTagAt(script, i);
      if (tag === null) {
        i++;
      } else {
        const close = script.indexOf(tag, i + tag.length);
        i = close === -1 ? n : close + tag.length;
      }
    } else if (ch === ";") {
      push(i);
      i++;
      start = i;
    } else {
      i++;
    }
  }
  push(n);
  return statements;
}

function skipLineComment(s: string, i: number): number {
  const end = s.indexOf("\n", i);
  return end === -1 ? s.length : end + 1;
}

function skipBlockComment(s: string, i: number): number {
  let depth = 0;
  while (i < s.length) {
    if (s[i] === "/" && s[i + 1] === "*") {
      depth++;
      i += 2;
    } else if (s[i] === "*" && s[i + 1] === "/") {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return i;
}

function skipQuoted(s: string, i: number, quote: string, backslashEscapes: boolean): number {
  i++;
  while (i < s.length) {
    const ch = s[i];
    if (backslashEscapes && ch === "\\") {
      i += 2;
    } else if (ch === quote) {
      if (s[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return i;
}

/** The dollar-quote tag (`$$` or `$name$`) starting at i, or null. */
function dollarTagAt(s: string, i: number): string | null {
  // A `$` right after an identifier character is part of a name or a parameter ($1).
  if (i > 0 && /[\w$]/.test(s[i - 1]!)) return null;
  const match = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(s.slice(i, i + 64));
  return match ? match[0] : null;
}

function isOnlyComments(text: string): boolean {
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) i++;
    else if (text.startsWith("--", i)) i = skipLineComment(text, i);
    else if (text.startsWith("/*", i)) i = skipBlockComment(text, i);
    else return false;
  }
  return true;
}
