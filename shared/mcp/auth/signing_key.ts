/**
 * The private key of `private_key_jwt`, made into the one form the SDK's
 * `PrivateKeyJwtProvider` takes for every signing algorithm: a private JWK. The SDK reads a PEM
 * key itself only for RS/ES/PS algorithms (an `EdDSA` PEM key is refused there), and signs with
 * whatever curve a JWK names (a P-256 key named `ES384` would reach the authorization server).
 * Here a PEM (PKCS#8) key or a JWK is imported for its algorithm, checked to be a private key
 * of that algorithm (RSA of 2048 bits or more for RS/PS, P-256/P-384/P-521 for ES256/384/512,
 * Ed25519 for EdDSA), and exported as a JWK.
 *
 * A refusal is a value whose reason names the kind of key only, never its material. jose is
 * loaded on first use: probes without a private key do not pay for it.
 */
import type { JWK } from "jose";
import type { SIGNING_ALGORITHMS } from "./server_credentials.ts";

/** A signing algorithm of `private_key_jwt`. */
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** The key to sign with, or why there is none. */
export type SigningKeyResult =
  | {
    readonly ok: true;
    /** The private JWK (no `alg`, `use`, `key_ops`: the algorithm is the credential's). */
    readonly jwk: JWK;
    /** Its private members (`d`, and `p`, `q`, `dp`, `dq`, `qi` for RSA): secrets. */
    readonly secrets: readonly string[];
  }
  | { readonly ok: false; readonly reason: string };

/** The JWK members that are private key material. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi"] as const;

/** The smallest RSA modulus jose signs with (RFC 7518 §3.3, §3.5). */
const MIN_RSA_BITS = 2048;

/**
 * What `algorithm` needs of a key: of a JWK (its `kty` and `crv`: Deno's WebCrypto imports a
 * P-256 JWK as a P-384 key if asked to), of a WebCrypto key, and in words for a refusal.
 */
function expected(
  algorithm: SigningAlgorithm,
): {
  jwkFits: (jwk: JWK) => boolean;
  fits: (key: CryptoKey) => boolean;
  words: string;
} {
  const family = algorithm.slice(0, 2);
  if (family === "RS" || family === "PS") {
    const name = family === "RS" ? "RSASSA-PKCS1-v1_5" : "RSA-PSS";
    return {
      jwkFits: (jwk) => jwk.kty === "RSA",
      fits: (key) => key.algorithm.name === name,
      words: `an RSA key of ${MIN_RSA_BITS} bits or more`,
    };
  }
  if (family === "ES") {
    const curve = { ES256: "P-256", ES384: "P-384", ES512: "P-521" }[algorithm as string] ?? "";
    return {
      jwkFits: (jwk) => jwk.kty === "EC" && jwk.crv === curve,
      fits: (key) =>
        key.algorithm.name === "ECDSA" &&
        (key.algorithm as EcKeyAlgorithm).namedCurve === curve,
      words: `an EC key on curve ${curve}`,
    };
  }
  return {
    jwkFits: (jwk) => jwk.kty === "OKP" && jwk.crv === "Ed25519",
    fits: (key) => key.algorithm.name === "Ed25519",
    words: "an Ed25519 key",
  };
}

/**
 * `privateKey` (PKCS#8 PEM or a JWK as JSON) as a private JWK for `algorithm`, or the reason it
 * is not one.
 */
export async function signingKey(
  privateKey: string,
  algorithm: SigningAlgorithm,
): Promise<SigningKeyResult> {
  const jose = await import("jose");
  const need = expected(algorithm);
  const refused = (why: string): SigningKeyResult => ({
    ok: false,
    reason: `${why}; ${algorithm} needs ${need.words} (PKCS#8 PEM or JWK)`,
  });
  const text = privateKey.trim();
  let key: CryptoKey;
  try {
    if (text.startsWith("{")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return refused("it is not valid JSON");
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        return refused("it is not a JWK");
      }
      const jwk = parsed as JWK;
      if (typeof jwk.alg === "string" && jwk.alg !== algorithm) {
        return refused("the JWK names another algorithm");
      }
      if (!need.jwkFits(jwk)) return refused("the JWK is another kind of key");
      if (typeof jwk.d !== "string") return refused("the JWK holds no private key");
      const imported = await jose.importJWK(jwk, algorithm, { extractable: true });
      if (imported instanceof Uint8Array) return refused("the JWK is a symmetric key");
      key = imported;
    } else if (text.startsWith("-----BEGIN PRIVATE KEY-----")) {
      key = await jose.importPKCS8(text, algorithm, { extractable: true });
    } else {
      return refused("it is neither a PKCS#8 PEM key nor a JWK");
    }
  } catch {
    // jose's and WebCrypto's words may describe the key: none of them is repeated.
    return refused("it could not be read as one");
  }
  if (key.type !== "private" || !need.fits(key)) return refused("it is another kind of key");
  const modulus = (key.algorithm as Partial<RsaHashedKeyAlgorithm>).modulusLength;
  if (modulus !== undefined && modulus < MIN_RSA_BITS) return refused("the RSA key is too short");
  const exported = await jose.exportJWK(key);
  const jwk: JWK = Object.fromEntries(
    Object.entries(exported).filter(([name]) => !["alg", "use", "key_ops", "ext"].includes(name)),
  );
  const secrets = PRIVATE_MEMBERS.map((name) => jwk[name]).filter(
    (value): value is string => typeof value === "string",
  );
  return { ok: true, jwk, secrets };
}
