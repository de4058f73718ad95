// The `from` and `to` parameters that every site statistic takes: their schema, and the range they describe.
import { InvalidTimeRange, parseTimeRange, type TimeRange } from '../domain/time-range.js'
import { BadParameterError } from '../errors.js'

export interface RangeQuery {
  from?: string
  to?: string
}

const instant = (description: string) => ({
  type: 'string',
  maxLength: 40,
  description: `${description}: epoch seconds (1347844442) or an ISO 8601 date or date-time (2012-09-17, ` +
    '2012-09-17T01:14:02Z), UTC unless an offset is given.'
}) as const

/** Querystring properties for a time range: the sessions whose first view is in [from, to). */
export const rangeQueryProperties = {
  from: instant('Only sessions whose first view is at or after this instant'),
  to: instant('Only sessions whose first view is before this instant')
} as const

/** The range a query asks for (the whole data without `from` and `to`); a 400 naming the parameter if it is bad. */
export function timeRangeOf (query: RangeQuery): TimeRange {
  try {
    return parseTimeRange(query.from, query.to)
  } catch (error) {
    // parseTimeRange throws nothing but InvalidTimeRange.
    throw new BadParameterError((error as InvalidTimeRange).message)
  }
}
