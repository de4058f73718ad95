// Date ranges as the queries take them: [from, to) in epoch seconds, from epoch seconds or ISO 8601 in UTC.

/** Sessions whose first view is at or after `from` and before `to`, in epoch seconds; open ends are infinite. */
export interface TimeRange {
  readonly from: number
  readonly to: number
}

export const WHOLE_DATA: TimeRange = { from: -Infinity, to: Infinity }

export function isWholeData (range: TimeRange): boolean {
  return range.from === -Infinity && range.to === Infinity
}

/** A range's key among the others, for what is memoized per range. */
export function rangeKey (range: TimeRange): string {
  return `${range.from} ${range.to}`
}

const EPOCH_SECONDS = /^-?\d{1,16}$/
/** A calendar date, optionally with a time of day and a UTC offset: the forms of ISO 8601 people type. */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/**
 * Epoch seconds ("1347844442") or an ISO 8601 date or date-time ("2012-09-17", "2012-09-17T01:14:02Z"); a date
 * or time without an offset is UTC, whatever the server's time zone. Undefined for anything else, including
 * dates that do not exist (2012-02-30).
 */
export function parseInstant (text: string): number | undefined {
  if (EPOCH_SECONDS.test(text)) {
    const seconds = Number(text)
    return Number.isSafeInteger(seconds) ? seconds : undefined
  }
  const parts = ISO_8601.exec(text)
  if (parts === null) return undefined
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', offset = 'Z'] = parts
  // Not Date.UTC, which takes the years 0 to 99 for 1900 to 1999.
  const date = new Date(0)
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day))
  date.setUTCHours(Number(hour), Number(minute), Number(second))
  const milliseconds = date.getTime()
  // Dates roll over (February 30th becomes March 1st): a date that does not exist is refused, not moved.
  if (date.getUTCDate() !== Number(day) || date.getUTCMonth() !== Number(month) - 1 || Number(hour) > 23 ||
    Number(minute) > 59 || Number(second) > 59) return undefined
  const offsetMinutes = offset.toUpperCase() === 'Z'
    ? 0
    : (offset.startsWith('-') ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(-2)))
  return milliseconds / 1000 + Number(`0.${fraction || '0'}`) - offsetMinutes * 60
}

/** What is wrong with a range, in a message that names the parameter. */
export class InvalidTimeRange extends Error {
  override name = 'InvalidTimeRange'
}

/** The range that `from` and `to` describe; either may be absent (an open end). */
export function parseTimeRange (from: string | undefined, to: string | undefined): TimeRange {
  const instant = (name: string, text: string | undefined, open: number): number => {
    if (text === undefined || text === '') return open
    const value = parseInstant(text)
    if (value === undefined) {
      throw new InvalidTimeRange(`${name} must be epoch seconds or an ISO 8601 date or date-time (UTC unless an offset is given), got ${JSON.stringify(text)}`)
    }
    return value
  }
  const range = { from: instant('from', from, -Infinity), to: instant('to', to, Infinity) }
  if (range.to < range.from) throw new InvalidTimeRange(`to must not be before from, got from=${from} and to=${to}`)
  return range
}
