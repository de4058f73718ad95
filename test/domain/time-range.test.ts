import t from 'tap'
import { InvalidTimeRange, isWholeData, parseInstant, parseTimeRange, rangeKey, WHOLE_DATA } from '../../src/domain/time-range.js'

t.test('epoch seconds and the ISO 8601 forms people type, UTC unless an offset says otherwise', async t => {
  const cases: [string, number][] = [
    ['1347844442', 1347844442],
    ['0', 0],
    ['-86400', -86400],
    ['9007199254740991', 2 ** 53 - 1],
    ['2012-09-17', 1347840000],
    ['2012-09-17T01:14:02Z', 1347844442],
    ['2012-09-17t01:14:02z', 1347844442],
    ['2012-09-17 01:14:02', 1347844442],
    ['2012-09-17T01:14', 1347844440],
    ['2012-09-17T01:14:02.5Z', 1347844442.5],
    ['2012-09-17T03:14:02+02:00', 1347844442],
    ['2012-09-16T23:14:02-0200', 1347844442],
    ['2012-02-29', 1330473600],
    ['1970-01-01', 0],
    ['0099-12-31T23:59:59Z', -59011459201],
    ['0000-01-01', -62167219200]
  ]
  for (const [text, seconds] of cases) t.equal(parseInstant(text), seconds, text)
})

t.test('anything else is not an instant, nor is a date that does not exist', async t => {
  for (const text of ['', ' 1', '1e9', '0x10', '99999999999999999', '9999999999999999', '2012-9-17', '2012-09-17T', '2012-09-17T25:00',
    '2012-09-17T10:60', '2012-09-17T10:00:60', '2011-02-29', '2012-02-30', '2012-13-01', '2012-00-10', 'yesterday',
    '2012-09-17T01:14:02+2']) {
    t.equal(parseInstant(text), undefined, JSON.stringify(text))
  }
})

t.test('a range: open ends, both ends, the same instant twice (empty), and what is wrong named', async t => {
  t.same(parseTimeRange(undefined, undefined), WHOLE_DATA)
  t.ok(isWholeData(parseTimeRange('', '')))
  t.same(parseTimeRange('10', undefined), { from: 10, to: Infinity })
  t.same(parseTimeRange(undefined, '1970-01-02'), { from: -Infinity, to: 86400 })
  t.same(parseTimeRange('5', '5'), { from: 5, to: 5 })
  t.notOk(isWholeData(parseTimeRange('5', undefined)))
  t.not(rangeKey(parseTimeRange('5', '6')), rangeKey(parseTimeRange('5', '7')))
  t.throws(() => parseTimeRange('soon', undefined), new InvalidTimeRange(
    'from must be epoch seconds or an ISO 8601 date or date-time (UTC unless an offset is given), got "soon"'))
  t.throws(() => parseTimeRange(undefined, '2012-02-30'), { name: 'InvalidTimeRange', message: /^to must be epoch seconds/ })
  t.throws(() => parseTimeRange('2012-09-18', '2012-09-17'), new InvalidTimeRange('to must not be before from, got from=2012-09-18 and to=2012-09-17'))
})
