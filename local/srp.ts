/**
 * The server side of Amazon Cognito's Secure Remote Password (SRP-6a) sign-in, as the user pool answers
 * `InitiateAuth` `USER_SRP_AUTH` and checks `RespondToAuthChallenge` `PASSWORD_VERIFIER`. It matches the
 * client side in amazon-cognito-identity-js's `AuthenticationHelper` (and Amplify's, which is the same):
 *   - N: the 3072-bit MODP group of RFC 3526, g = 2, k = H(pad(N) | pad(g)), H = SHA-256;
 *   - x = H(pad(salt) | H(poolName | userIdForSrp | ":" | password)), verifier v = g^x mod N;
 *   - B = k·v + g^b mod N, u = H(pad(A) | pad(B)), S = (A · v^u)^b mod N;
 *   - key = HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key"), first 16 bytes;
 *   - PASSWORD_CLAIM_SIGNATURE = base64 HMAC-SHA256(key, poolName | userIdForSrp | SECRET_BLOCK bytes | TIMESTAMP).
 * `pad` is the helper's `padHex`: even-length hex, with "00" in front when the top bit is set.
 * The pool name is the part of the user pool id after "_" (`CognitoUserPool.getUserPoolName`).
 */
import { createDiffieHellman, createHash, createHmac, randomBytes, timingSafeEqual, type DiffieHellman } from "node:crypto";

const N_HEX =
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

export const N = BigInt(`0x${N_HEX}`);
export const g = 2n;

/** Even-length hex of a non-negative integer, "00"-prefixed when its top bit is set (the helper's `padHex`). */
export function padHex(n: bigint): string {
    let hex = n.toString(16);
    if (hex.length % 2 !== 0) hex = `0${hex}`;
    return /^[89a-f]/i.test(hex) ? `00${hex}` : hex;
}

/** Hex SHA-256 of a UTF-8 string or bytes. */
export function hash(data: string | Buffer): string {
    return createHash("sha256").update(data).digest("hex");
}

/** Hex SHA-256 of the bytes a hex string stands for. */
export function hexHash(hex: string): string {
    return hash(Buffer.from(hex, "hex"));
}

const k = BigInt(`0x${hexHash(padHex(N) + padHex(g))}`);

const bytesOf = (n: bigint) => Buffer.from(padHex(n), "hex");
/** A Diffie-Hellman object over N with generator 2 (creating one with another generator runs a slow check). */
let dhOverN: DiffieHellman | undefined;

/**
 * base^exponent mod N, computed by OpenSSL: a Diffie-Hellman shared secret is peerKey^privateKey mod prime, so a
 * DH object over N with `exponent` as its private key and `base` as the peer's key yields the power, about 20 times
 * faster than BigInt arithmetic for a 1024-bit exponent. Falls back to {@link modPow} if OpenSSL refuses the values
 * (it checks 1 < base < N - 1).
 */
export function modPowN(base: bigint, exponent: bigint): bigint {
    const b = ((base % N) + N) % N;
    if (exponent === 0n || b <= 1n || b >= N - 1n) return modPow(b, exponent, N);
    try {
        dhOverN ??= createDiffieHellman(bytesOf(N), bytesOf(g));
        dhOverN.setPrivateKey(bytesOf(exponent));
        return BigInt(`0x${dhOverN.computeSecret(bytesOf(b)).toString("hex")}`);
    } catch {
        return modPow(b, exponent, N);
    }
}

/** base^exponent mod modulus (square and multiply). */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
    let result = 1n;
    let b = ((base % modulus) + modulus) % modulus;
    let e = exponent;
    while (e > 0n) {
        if (e & 1n) result = (result * b) % modulus;
        b = (b * b) % modulus;
        e >>= 1n;
    }
    return result;
}

const randomBig = (bytes: number) => BigInt(`0x${randomBytes(bytes).toString("hex")}`);

/** The salt and verifier the pool stores for a password (never the password itself), both hex. */
export interface PasswordVerifier {
    salt: string;
    verifier: string;
}

export function passwordVerifier(poolName: string, userIdForSrp: string, password: string): PasswordVerifier {
    const salt = randomBig(16);
    const x = BigInt(`0x${hexHash(padHex(salt) + hash(`${poolName}${userIdForSrp}:${password}`))}`);
    return { salt: salt.toString(16), verifier: modPowN(g, x).toString(16) };
}

/** The server's ephemeral values of one sign-in: secret b and public B (hex). */
export interface ServerEphemeral {
    b: string;
    B: string;
}

export function serverEphemeral(verifierHex: string): ServerEphemeral {
    const v = BigInt(`0x${verifierHex}`);
    for (;;) {
        const b = randomBig(128);
        const B = (k * v + modPowN(g, b)) % N;
        if (B !== 0n) return { b: b.toString(16), B: B.toString(16) };
    }
}

/** Whether a client's SRP_A is usable: hex, and A mod N ≠ 0 (SRP-6a's check). */
export function validClientPublic(aHex: string): boolean {
    return /^[0-9a-f]{1,1600}$/i.test(aHex) && BigInt(`0x${aHex}`) % N !== 0n;
}

/** The 16-byte key both sides derive (the helper's `getPasswordAuthenticationKey`). */
export function passwordAuthenticationKey(aHex: string, ephemeral: ServerEphemeral, verifierHex: string): Buffer {
    const A = BigInt(`0x${aHex}`);
    const B = BigInt(`0x${ephemeral.B}`);
    const u = BigInt(`0x${hexHash(padHex(A) + padHex(B))}`);
    if (u === 0n) throw new Error("SRP: u is zero");
    const v = BigInt(`0x${verifierHex}`);
    const S = modPowN((A * modPowN(v, u)) % N, BigInt(`0x${ephemeral.b}`));
    const prk = createHmac("sha256", Buffer.from(padHex(u), "hex")).update(Buffer.from(padHex(S), "hex")).digest();
    return createHmac("sha256", prk)
        .update(Buffer.concat([Buffer.from("Caldera Derived Key", "utf8"), Buffer.from([1])]))
        .digest()
        .subarray(0, 16);
}

/** Whether PASSWORD_CLAIM_SIGNATURE is the one the key yields for this secret block and timestamp. */
export function validPasswordClaim(
    key: Buffer,
    poolName: string,
    userIdForSrp: string,
    secretBlock: string,
    timestamp: string,
    signature: string,
): boolean {
    const expected = createHmac("sha256", key)
        .update(Buffer.concat([Buffer.from(poolName, "utf8"), Buffer.from(userIdForSrp, "utf8"), Buffer.from(secretBlock, "base64"), Buffer.from(timestamp, "utf8")]))
        .digest();
    const given = Buffer.from(signature, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
}
