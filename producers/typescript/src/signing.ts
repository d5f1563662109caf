// src/signing.ts -- owns the signature of an intent, the one rule the sender and
// the worker must agree on byte for byte (worker/auth.c, auth_verify): the
// Kafka header x-signature is "v1=" + the lowercase hex HMAC-SHA256, under the
// signer's 32-byte key, of the exact bytes of the message value.  On the user
// topic the signer is the deployment's USER_TOPIC_SIGNER (the backend; default
// "backend"), on the bot topic the bot.  Keys come from a file (64 hex digits,
// what `intentctl bot add --key-file` writes) or a secret manager's callback;
// they are never logged, and no error carries them.
import { createHmac } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { SigningKeyError } from './errors.js'

export const SIGNATURE_HEADER = 'x-signature'
export const SIGNATURE_SCHEME = 'v1='
export const SIGNING_KEY_BYTES = 32

/**
 * Where the signing key comes from: a file holding 64 hexadecimal digits, or
 * a callback (a secret manager) giving the 32 bytes or their 64 hex digits.
 */
export type SigningKeySource = { file: string } | (() => Promise<Uint8Array | string>)

/** The x-signature header value for these exact bytes under the 32-byte key. */
export function signIntent(key: Uint8Array, bytes: Uint8Array): string {
  if (key.length !== SIGNING_KEY_BYTES) throw new SigningKeyError(`a signing key has ${SIGNING_KEY_BYTES} bytes`)
  return SIGNATURE_SCHEME + createHmac('sha256', key).update(bytes).digest('hex')
}

const HEX_KEY = /^[0-9A-Fa-f]{64}$/

/**
 * The 32 key bytes of the material: 32 bytes as they are, or 64 hex digits
 * (text, or bytes of text; white space around them ignored).  `from` names
 * where it came from in the error, which never shows the material.
 */
export function parseSigningKey(material: Uint8Array | string, from: string): Uint8Array {
  if (typeof material !== 'string' && material.length === SIGNING_KEY_BYTES) return Uint8Array.from(material)
  const text = (typeof material === 'string' ? material : Buffer.from(material).toString('latin1')).trim()
  if (!HEX_KEY.test(text)) {
    throw new SigningKeyError(`${from} is not a signing key (${SIGNING_KEY_BYTES} bytes, or ${2 * SIGNING_KEY_BYTES} hexadecimal digits)`)
  }
  return Uint8Array.from(Buffer.from(text, 'hex'))
}

/** Reads the key once from its source. */
export async function loadSigningKey(source: SigningKeySource): Promise<Uint8Array> {
  if (typeof source === 'function') {
    let material: Uint8Array | string
    try {
      material = await source()
    } catch (e) {
      // The callback's own error is kept as the cause, for the operator.
      throw new SigningKeyError('the signing key callback failed', { cause: e })
    }
    if (typeof material !== 'string' && !(material instanceof Uint8Array)) {
      throw new SigningKeyError('the signing key callback returned neither a string nor a Uint8Array')
    }
    return parseSigningKey(material, 'the signing key callback\'s value')
  }
  let buf: Buffer
  try {
    buf = await readFile(source.file)
  } catch (e) {
    throw new SigningKeyError(`cannot read the signing key file ${source.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  try {
    // Text only, as `intentctl bot add --key-file` writes it.
    return parseSigningKey(buf.toString('latin1'), `the signing key file ${source.file}`)
  } finally {
    buf.fill(0)
  }
}

/**
 * A key source read at most every `ttlMs` (a rotated key in a secret manager
 * is picked up within that time; 0: read for every send).
 */
export class SigningKeyCache {
  #key: Uint8Array | null = null
  #at = 0
  #pending: Promise<Uint8Array> | null = null
  constructor(
    private readonly source: SigningKeySource,
    private readonly ttlMs = 60_000,
  ) {}

  async get(): Promise<Uint8Array> {
    if (this.#key && Date.now() - this.#at < this.ttlMs) return this.#key
    // One read at a time; a replaced key is dropped, not wiped, since a send
    // may hold it between its read and its signature.
    this.#pending ??= loadSigningKey(this.source)
      .then((key) => {
        this.#key = key
        this.#at = Date.now()
        return key
      })
      .finally(() => (this.#pending = null))
    return this.#pending
  }

  /** Forgets the key (wiped): the next send reads it again. */
  clear(): void {
    this.#key?.fill(0)
    this.#key = null
  }

  /** Not the key: a cache prints as its kind only (util.inspect, JSON.stringify). */
  toJSON(): string {
    return '[SigningKeyCache]'
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[SigningKeyCache]'
  }
}
