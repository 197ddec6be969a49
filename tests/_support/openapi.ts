/**
 * What the functions' OpenAPI documents must be: valid OpenAPI 3.1 (swagger-parser, which
 * also resolves every `$ref`), and a list of their routes to compare with what is served.
 */
import assert from "node:assert/strict";
import SwaggerParser from "@apidevtools/swagger-parser";

/** Asserts `doc` is a valid OpenAPI 3.1 document; returns its routes as sorted "METHOD /path". */
export async function validOpenApiRoutes(doc: unknown): Promise<string[]> {
  const { openapi, paths } = doc as {
    openapi?: string;
    paths?: Record<string, Record<string, unknown>>;
  };
  assert.equal(openapi, "3.1.0");
  // swagger-parser dereferences in place: validate a copy.
  await SwaggerParser.validate(structuredClone(doc) as never);
  return Object.entries(paths ?? {}).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`)
  ).sort();
}
