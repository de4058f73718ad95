// The dataset in memory: interned ids and typed columns clustered by (site, visitor, timestamp).

import type { PageViewBatch } from './page-view-batch.js'

/**
 * Every page view, clustered so that one site's views are one contiguous slice, ordered by visitor and
 * then by time: sessionizing a site is then a single linear scan with no sorting.
 */
export interface PageViewStore {
  readonly siteUrls: readonly string[]
  readonly siteIdByUrl: ReadonlyMap<string, number>
  readonly visitorIds: readonly string[]
  readonly visitorIdByName: ReadonlyMap<string, number>
  /** Site s owns rows siteRowStart[s] to siteRowStart[s + 1] (exclusive). */
  readonly siteRowStart: Uint32Array
  readonly visitorColumn: Uint32Array
  readonly timestampColumn: Float64Array
  /** Distinct sites each visitor has viewed. */
  readonly visitorSiteCount: Uint32Array
  readonly firstTimestamp: number | null
  readonly lastTimestamp: number | null
}

export function siteRowCount (store: PageViewStore, siteId: number): number {
  return store.siteRowStart[siteId + 1] - store.siteRowStart[siteId]
}

interface Dictionary {
  readonly values: string[]
  readonly idByValue: Map<string, number>
}

/** Maps each local id of a batch's dictionary to the global id, interning new values. */
function mergeDictionary (global: Dictionary, local: readonly string[]): Uint32Array {
  const globalIdOfLocal = new Uint32Array(local.length)
  for (let localId = 0; localId < local.length; localId++) {
    const value = local[localId]
    let id = global.idByValue.get(value)
    if (id === undefined) {
      id = global.values.length
      global.idByValue.set(value, id)
      global.values.push(value)
    }
    globalIdOfLocal[localId] = id
  }
  return globalIdOfLocal
}

/** Exclusive prefix sums of per-key counts: where each key's rows start, with the total at the end. */
function bucketStarts (keys: Uint32Array, keyCount: number): Uint32Array {
  const starts = new Uint32Array(keyCount + 1)
  for (let row = 0; row < keys.length; row++) starts[keys[row] + 1]++
  for (let key = 0; key < keyCount; key++) starts[key + 1] += starts[key]
  return starts
}

/** Sorts rows[from, to) by timestamp; runs are short (one visitor), so insertion sort unless large. */
function sortRowsByTime (rows: Uint32Array, from: number, to: number, timestamps: Float64Array): void {
  if (to - from > 64) {
    rows.subarray(from, to).sort((a, b) => timestamps[a] - timestamps[b])
    return
  }
  for (let i = from + 1; i < to; i++) {
    const row = rows[i]
    const time = timestamps[row]
    let j = i - 1
    while (j >= from && timestamps[rows[j]] > time) {
      rows[j + 1] = rows[j]
      j--
    }
    rows[j + 1] = row
  }
}

/**
 * Merges parsed batches into one store in O(n + sites + visitors): a counting sort by visitor, a short sort
 * of each visitor's views by time, then a stable counting sort by site.
 */
export function buildPageViewStore (batches: readonly PageViewBatch[]): PageViewStore {
  const sites: Dictionary = { values: [], idByValue: new Map() }
  const visitors: Dictionary = { values: [], idByValue: new Map() }
  const rowCount = batches.reduce((sum, batch) => sum + batch.timestampColumn.length, 0)
  const siteOfRow = new Uint32Array(rowCount)
  const visitorOfRow = new Uint32Array(rowCount)
  const timeOfRow = new Float64Array(rowCount)
  let firstTimestamp = Infinity
  let lastTimestamp = -Infinity

  let offset = 0
  for (const batch of batches) {
    const siteId = mergeDictionary(sites, batch.siteUrls)
    const visitorId = mergeDictionary(visitors, batch.visitorIds)
    for (let row = 0; row < batch.timestampColumn.length; row++) {
      const time = batch.timestampColumn[row]
      siteOfRow[offset] = siteId[batch.siteColumn[row]]
      visitorOfRow[offset] = visitorId[batch.visitorColumn[row]]
      timeOfRow[offset] = time
      if (time < firstTimestamp) firstTimestamp = time
      if (time > lastTimestamp) lastTimestamp = time
      offset++
    }
  }

  const siteCount = sites.values.length
  const visitorCount = visitors.values.length

  const visitorStart = bucketStarts(visitorOfRow, visitorCount)
  const byVisitor = new Uint32Array(rowCount)
  const visitorCursor = visitorStart.slice(0, visitorCount)
  for (let row = 0; row < rowCount; row++) byVisitor[visitorCursor[visitorOfRow[row]]++] = row
  for (let visitor = 0; visitor < visitorCount; visitor++) {
    sortRowsByTime(byVisitor, visitorStart[visitor], visitorStart[visitor + 1], timeOfRow)
  }

  const siteRowStart = bucketStarts(siteOfRow, siteCount)
  const siteCursor = siteRowStart.slice(0, siteCount)
  const visitorColumn = new Uint32Array(rowCount)
  const timestampColumn = new Float64Array(rowCount)
  for (let i = 0; i < rowCount; i++) {
    const row = byVisitor[i]
    const at = siteCursor[siteOfRow[row]]++
    visitorColumn[at] = visitorOfRow[row]
    timestampColumn[at] = timeOfRow[row]
  }

  const visitorSiteCount = new Uint32Array(visitorCount)
  for (let site = 0; site < siteCount; site++) {
    let previousVisitor = -1
    for (let row = siteRowStart[site]; row < siteRowStart[site + 1]; row++) {
      const visitor = visitorColumn[row]
      if (visitor !== previousVisitor) visitorSiteCount[visitor]++
      previousVisitor = visitor
    }
  }

  return {
    siteUrls: sites.values,
    siteIdByUrl: sites.idByValue,
    visitorIds: visitors.values,
    visitorIdByName: visitors.idByValue,
    siteRowStart,
    visitorColumn,
    timestampColumn,
    visitorSiteCount,
    firstTimestamp: rowCount === 0 ? null : firstTimestamp,
    lastTimestamp: rowCount === 0 ? null : lastTimestamp
  }
}
