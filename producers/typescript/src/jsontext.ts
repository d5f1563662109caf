// src/jsontext.ts -- owns the reading of an intent message's raw bytes the way
// the worker reads them before it validates (worker/intent.c, jsonscan.c):
// the size limit, UTF-8, JSON without duplicate keys or over-deep nesting, an
// object, a usable intent_id; and, for the validator, the exact text of each
// top-level number (a quantity is read from its lexeme, never from a double)
// and the compact size of meta.  Why: JSON.parse silently keeps the last of
// two equal keys and turns 0.1000000000000000000001 into 0.1; the worker
// refuses the first and counts the places of the second.

/** The whole message, in bytes (intent.h: INTENT_MAX_BYTES). */
export const INTENT_MAX_BYTES = 65536
const MAX_DEPTH = 2048 // jansson's JSON_PARSER_MAX_DEPTH

/** Why a message cannot be read as an intent at all: it would go to orders.dlq. */
export type UnreadableReason = 'too_large' | 'not_json' | 'not_object' | 'no_intent_id'

export type ReadResult =
  | { ok: true; value: Record<string, unknown>; raw: RawMembers }
  | { ok: false; reason: UnreadableReason; message: string }

/** The raw text of each top-level member's value, in document order. */
export type RawMembers = Map<string, string>

const UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const INT64_MAX = 9223372036854775807n
const NUMBER = /-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/y

/** True for UUID text (8-4-4-4-12 hexadecimal digits), the form of every intent_id. */
export function isUuid(s: string): boolean {
  return UUID.test(s)
}

/** A JSON type's name as the worker's messages say it ("a string", "a number", ...). */
export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  switch (typeof v) {
    case 'string':
      return 'a string'
    case 'number':
      return 'a number'
    case 'boolean':
      return 'a boolean'
    case 'object':
      return 'an object'
    default:
      return 'unknown'
  }
}

function unreadable(reason: UnreadableReason, message: string): ReadResult {
  return { ok: false, reason, message }
}

// Walks JSON text that JSON.parse accepted, and finds what it lets through but
// jansson refuses (duplicate keys at any depth, nesting over 2048, NUL in a
// key, lone surrogates, integers beyond 64 bits, reals that overflow); records
// the top-level members' raw value text.  Returns an error text, or null.
function scan(text: string, raw: RawMembers): string | null {
  const frames: { keys: Set<string> | null }[] = []
  let expectKey = false
  let key: string | null = null
  let valueStart = -1
  const endMember = (end: number) => {
    if (frames.length === 1 && key !== null && valueStart >= 0) raw.set(key, text.slice(valueStart, end).trim())
    valueStart = -1
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (c === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      const token = text.slice(i, j + 1)
      const s = token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1)
      if (token.includes('\\u') && LONE_SURROGATE.test(s)) return 'invalid Unicode escape (a lone surrogate)'
      if (expectKey) {
        const frame = frames[frames.length - 1]
        if (s.includes('\0')) return 'NUL byte in object key not supported'
        if (frame?.keys?.has(s)) return `duplicate object key "${s}"`
        frame?.keys?.add(s)
        if (frames.length === 1) key = s
        expectKey = false
      }
      i = j
    } else if (c === '{' || c === '[') {
      if (frames.length === 1 && valueStart < 0) valueStart = i
      frames.push({ keys: c === '{' ? new Set() : null })
      if (frames.length > MAX_DEPTH) return `maximum parsing depth (${MAX_DEPTH}) reached`
      expectKey = c === '{'
    } else if (c === '}' || c === ']') {
      if (frames.length === 1) endMember(i)
      frames.pop()
    } else if (c === ',') {
      if (frames.length === 1) endMember(i)
      expectKey = frames[frames.length - 1]?.keys != null
    } else if (c === ':') {
      if (frames.length === 1) valueStart = i + 1
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i
      const m = NUMBER.exec(text) as RegExpExecArray
      const lexeme = m[0]
      if (frames.length > 1) {
        // Nested numbers are jansson's: 64-bit integers, doubles.
        if (m[1] === undefined && m[2] === undefined) {
          const big = BigInt(lexeme)
          if (big > INT64_MAX || big < -INT64_MAX - 1n) return 'too big integer'
        } else if (!Number.isFinite(Number(lexeme))) {
          return 'real number overflow'
        }
      }
      i += lexeme.length - 1
    }
  }
  return null
}

/**
 * Reads one message as the worker would before validating it: the intent
 * object and its raw top-level values, or why it would go to orders.dlq.
 */
export function readIntentText(message: Uint8Array | string): ReadResult {
  const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message
  if (bytes.length > INTENT_MAX_BYTES) {
    return unreadable('too_large', `message is ${bytes.length} bytes, over the limit of ${INTENT_MAX_BYTES}`)
  }
  const nul = bytes.indexOf(0)
  if (nul >= 0) return unreadable('not_json', `not valid JSON: a NUL byte at offset ${nul}`)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    return unreadable('not_json', 'not valid JSON: invalid UTF-8')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return unreadable('not_json', `not valid JSON: ${(e as Error).message}`)
  }
  const raw: RawMembers = new Map()
  const refused = scan(text, raw)
  if (refused !== null) return unreadable('not_json', `not valid JSON: ${refused}`)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return unreadable('not_object', `the message is ${jsonTypeName(value)}, not a JSON object`)
  }
  const doc = value as Record<string, unknown>
  const id = doc.intent_id
  if (!Object.hasOwn(doc, 'intent_id')) return unreadable('no_intent_id', 'intent_id is missing')
  if (typeof id !== 'string') return unreadable('no_intent_id', `intent_id is ${jsonTypeName(id)}, not a string`)
  if (!isUuid(id)) return unreadable('no_intent_id', 'intent_id is not a UUID (8-4-4-4-12 hexadecimal digits)')
  return { ok: true, value: doc, raw }
}

/** The size in bytes of a JSON value's raw text with the white space outside strings removed. */
export function compactBytes(rawText: string): number {
  let out = ''
  let inString = false
  for (let i = 0; i < rawText.length; i++) {
    const c = rawText[i] as string
    if (inString) {
      out += c
      if (c === '\\' && i + 1 < rawText.length) out += rawText[++i] as string
      else if (c === '"') inString = false
    } else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') {
      if (c === '"') inString = true
      out += c
    }
  }
  return Buffer.byteLength(out)
}
