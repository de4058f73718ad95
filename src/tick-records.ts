// Keeps a few of Node's process.nextTick records alive for the process's life, so that V8 keeps their shape.
import { createHook } from 'node:async_hooks'

/** Held by this module, and so for as long as the process runs. */
const kept: object[] = []

/**
 * Node's HTTP and stream code calls process.nextTick some eight times a request, and each call builds a record
 * as an object literal. In most starts that parsed their data on the main thread (6 of 8), profiles of cached
 * queries then showed every record built through V8's runtime (DefineKeyedOwnPropertyInLiteral, MigrateToMap):
 * 7–9 % of the CPU time, and 10–30 % more CPU a request. V8 holds the shapes an inline cache has seen only
 * weakly, and a load's many garbage collections can let a record's shape go and have it made anew, until
 * nextTick's cache gives up on it. With two records kept from the start, no start (0 of 8) showed it.
 * Returns the records kept, which are Node's own: an async hook is how Node lets them be seen.
 */
export function keepTickRecordShapes (): readonly object[] {
  const hook = createHook({
    init (_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject') kept.push(resource)
    }
  })
  hook.enable()
  // Both kinds of record: without arguments to pass on, and with.
  process.nextTick(() => {})
  process.nextTick(() => {}, undefined)
  hook.disable()
  return kept
}
