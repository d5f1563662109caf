// src/rfc3339.ts -- owns the reading of an intent's created_at / expires_at as
// the worker reads them (worker/timefmt.c, timefmt_parse_rfc3339): RFC 3339
// with seconds and an offset, a real calendar date, no second 60.  Why: a
// pattern accepts 2026-02-30; the worker does not, and the package's verdict
// must equal the worker's.

const RFC3339 =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$/

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/** Milliseconds since the epoch, or null when the text is not such a date-time. */
export function parseRfc3339(s: string): number | null {
  const m = RFC3339.exec(s)
  if (!m) return null
  const [year, mon, day, hour, min, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  if (mon < 1 || mon > 12 || day < 1 || day > daysInMonth(year, mon)) return null
  if (hour > 23 || min > 59 || sec > 59) return null
  let off = 0
  if (m[9] !== undefined) {
    const oh = Number(m[10]), om = Number(m[11])
    if (oh > 23 || om > 59) return null
    off = (m[9] === '-' ? -1 : 1) * (oh * 60 + om)
  }
  const ms = Number(((m[7] ?? '') + '000').slice(0, 3))
  const d = new Date(0) // not Date.UTC: it maps the years 0 to 99 to 1900 to 1999
  d.setUTCFullYear(year, mon - 1, day)
  d.setUTCHours(hour, min, sec, ms)
  return d.getTime() - off * 60000
}
