// Load options and a store's comparable contents, shared by the dataset tests.
import { pathToFileURL } from 'node:url'
import type { Test } from 'tap'
import type { LoadOptions } from '../../src/ingest/dataset.js'
import type { PageViewStore } from '../../src/domain/page-view-store.js'
import { compiled } from '../helper.js'

/** The worker as `npm test` builds it: it starts in a fraction of the time the TypeScript loader takes. */
export const COMPILED_WORKER = pathToFileURL(compiled('src/ingest/parse-worker.ts'))

export const onThisThread: LoadOptions = { strict: false, maxBadRowExamples: 10, fastPath: true, workers: 0 }
/** Two workers, and files cut into many small ranges, so that small test data takes the parallel path. */
export const onWorkers: LoadOptions = {
  ...onThisThread,
  workers: 2,
  tuning: { minBytesForWorkers: 0, splitBytes: 4096, chunkBytes: 1024, workerScript: COMPILED_WORKER }
}

/** What a store answers, independent of the order of ids and rows: each (site, visitor)'s sorted times. */
export function contents (t: Test, store: PageViewStore): string[] {
  const groups: string[] = []
  store.siteUrls.forEach((site, id) => {
    const views = new Map<string, [number, string][]>()
    for (let row = store.siteRowStart[id]; row < store.siteRowStart[id + 1]; row++) {
      const visitor = store.visitors.keyOf(store.visitorColumn[row])
      views.set(visitor, [...(views.get(visitor) ?? []), [store.timestampColumn[row], store.pages.keyOf(store.pageColumn[row])]])
    }
    for (const [visitor, list] of views) {
      const times = list.map(([time]) => time)
      t.same(times, [...times].sort((a, b) => a - b), 'times are in order within a visitor')
      // Views of the same time may come in any order: compared as a set, with their pages.
      groups.push(JSON.stringify([site, visitor, list.map(view => JSON.stringify(view)).sort()]))
    }
  })
  return groups.sort()
}
