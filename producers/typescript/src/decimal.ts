// src/decimal.ts -- owns the reading of a decimal exactly as the worker reads
// it (worker/decimal.c, decimal_parse): its canonical text, its number of
// fraction digits, its sign.  Why: "at most 9 decimal places" and "positive"
// are decided on the exact text, never on a binary float, and the package's
// verdict must equal the worker's.  Pure string work, no Number anywhere.

/** The canonical text may have at most this many characters (decimal.h: DECIMAL_MAX_TEXT - 1). */
export const DECIMAL_MAX_CHARS = 47

export type DecimalRead =
  | { ok: true; text: string; scale: number; negative: boolean; zero: boolean }
  | { ok: false; why: 'syntax' | 'range' }

const DIGITS = /^[0-9]+$/

/**
 * Reads `s` as the worker does.  With `allowExponent` (the lexeme of a JSON
 * number) the JSON number grammar is taken ("1.5e2"; no leading zeros);
 * without it (a JSON string) only `-?digits[.digits]` ("007" is fine).
 */
export function parseDecimal(s: string, allowExponent: boolean): DecimalRead {
  const m = allowExponent
    ? /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?)([0-9]+))?$/.exec(s)
    : /^(-?)([0-9]+)(?:\.([0-9]+))?$/.exec(s)
  if (!m) return { ok: false, why: 'syntax' }
  const neg = m[1] === '-'
  const int = m[2] as string
  const frac = m[3] ?? ''
  if (allowExponent && int.length > 1 && int[0] === '0') return { ok: false, why: 'syntax' }
  // The exponent, capped as the worker caps it (a huge one only makes the text too long).
  let exp = 0
  if (m[5] !== undefined && DIGITS.test(m[5])) {
    const e = m[5].replace(/^0+/, '')
    exp = e.length > 9 ? 1e9 : Number(e)
    if (m[4] === '-') exp = -exp
  }
  const digits = int + frac
  const first = digits.search(/[1-9]/)
  if (first < 0) return { ok: true, text: '0', scale: 0, negative: false, zero: true }
  let last = digits.length - 1
  while (digits[last] === '0') last--
  const sig = digits.slice(first, last + 1)
  const n = sig.length
  const point = int.length + exp - first // digits of sig before the point
  const total = point >= n ? point : point <= 0 ? 2 - point + n : n + 1
  if (total + (neg ? 1 : 0) > DECIMAL_MAX_CHARS) return { ok: false, why: 'range' }
  let text: string
  let scale: number
  if (point >= n) {
    text = sig + '0'.repeat(point - n)
    scale = 0
  } else if (point <= 0) {
    text = '0.' + '0'.repeat(-point) + sig
    scale = n - point
  } else {
    text = sig.slice(0, point) + '.' + sig.slice(point)
    scale = n - point
  }
  return { ok: true, text: (neg ? '-' : '') + text, scale, negative: neg, zero: false }
}
