import t from 'tap'
import { keepTickRecordShapes } from '../src/tick-records.js'

t.test('Node\'s own nextTick records are kept, one without arguments to pass on and one with', async t => {
  const records = keepTickRecordShapes() as { callback?: unknown, args?: unknown }[]
  t.equal(records.length, 2, 'Node reported both records to the hook')
  t.ok(records.every(record => typeof record.callback === 'function'), 'each holds its callback, as Node\'s records do')
  t.same(records.map(record => record.args), [undefined, [undefined]])
  t.equal(keepTickRecordShapes(), records, 'kept in one place for the process\'s life')
})
