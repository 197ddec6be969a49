/** Identifiers as the API accepts them. */
import { z } from "zod";

/**
 * A UUID in its canonical 8-4-4-4-12 hex form. Any version is accepted (platform tables
 * may hold hand-made ids), but nothing else: PostgreSQL would also parse braces or
 * missing dashes, which would make two spellings of one id.
 */
export const Uuid = z.guid({ message: "must be a UUID (8-4-4-4-12 hex digits)" });
export type Uuid = z.infer<typeof Uuid>;
