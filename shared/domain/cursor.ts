/**
 * Opaque keyset cursors: the (created_at, id) of the last row of a page, as
 * base64url JSON. Stable under inserts: a new row never shifts a later page.
 */
import { z } from "zod";
import { AppError } from "../errors/app_error.ts";
import { Uuid } from "../schemas/ids.ts";

export interface PageKey {
  /** created_at exactly as the database returned it. */
  createdAt: string;
  id: string;
}

const PageKeySchema = z.tuple([z.iso.datetime({ offset: true, local: false }), Uuid]);

export function encodeCursor(key: PageKey): string {
  const bytes = new TextEncoder().encode(JSON.stringify([key.createdAt, key.id]));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

export function decodeCursor(cursor: string): PageKey {
  try {
    const base64 = cursor.replaceAll("-", "+").replaceAll("_", "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    const [createdAt, id] = PageKeySchema.parse(JSON.parse(text));
    return { createdAt, id };
  } catch (error) {
    throw new AppError("invalid_cursor", "The cursor is not one this API issued.", undefined, {
      cause: error,
    });
  }
}
