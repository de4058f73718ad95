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

/**
 * Sorts one site's rows, in place, by visitor and then time. Packs each row into one exact integer key
 * (visitor × span + time offset) and sorts those natively when they fit in 2^53; otherwise sorts an index.
 */
function sortSiteRows (
  visitors: Uint32Array, times: Float64Array, from: number, to: number,
  minTime: number, maxTime: number, visitorCount: number, scratch: Float64Array
): void {
  const span = maxTime - minTime + 1
  if (visitorCount * span <= Number.MAX_SAFE_INTEGER) {
    const keys = scratch.subarray(0, to - from)
    for (let i = 0; i < keys.length; i++) keys[i] = visitors[from + i] * span + (times[from + i] - minTime)
    keys.sort()
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]
      // Float division may round up to the next visitor right below a multiple of span: correct it.
      let visitor = Math.floor(key / span)
      if (visitor * span > key) visitor--
      visitors[from + i] = visitor
      times[from + i] = key - visitor * span + minTime
    }
    return
  }
  const order = Array.from({ length: to - from }, (_, i) => from + i)
    .sort((a, b) => visitors[a] - visitors[b] || times[a] - times[b])
  const sortedVisitors = order.map(row => visitors[row])
  const sortedTimes = order.map(row => times[row])
  visitors.set(sortedVisitors, from)
  times.set(sortedTimes, from)
}

/**
 * Merges parsed batches into one store: count each site's rows, scatter rows into their site's slice
 * (remapping ids to the merged dictionaries on the way), then sort each slice by visitor and time.
 */
export function buildPageViewStore (batches: readonly PageViewBatch[]): PageViewStore {
  const sites: Dictionary = { values: [], idByValue: new Map() }
  const visitors: Dictionary = { values: [], idByValue: new Map() }
  const siteIdMaps = batches.map(batch => mergeDictionary(sites, batch.siteUrls))
  const visitorIdMaps = batches.map(batch => mergeDictionary(visitors, batch.visitorIds))
  const siteCount = sites.values.length
  const visitorCount = visitors.values.length

  const siteRowStart = new Uint32Array(siteCount + 1)
  const siteMinTime = new Float64Array(siteCount).fill(Infinity)
  const siteMaxTime = new Float64Array(siteCount).fill(-Infinity)
  batches.forEach((batch, b) => {
    const siteIdMap = siteIdMaps[b]
    for (let row = 0; row < batch.timestampColumn.length; row++) {
      const site = siteIdMap[batch.siteColumn[row]]
      const time = batch.timestampColumn[row]
      siteRowStart[site + 1]++
      if (time < siteMinTime[site]) siteMinTime[site] = time
      if (time > siteMaxTime[site]) siteMaxTime[site] = time
    }
  })
  let largestSite = 0
  for (let site = 0; site < siteCount; site++) {
    largestSite = Math.max(largestSite, siteRowStart[site + 1])
    siteRowStart[site + 1] += siteRowStart[site]
  }

  const rowCount = siteRowStart[siteCount]
  const visitorColumn = new Uint32Array(rowCount)
  const timestampColumn = new Float64Array(rowCount)
  const cursor = siteRowStart.slice(0, siteCount)
  batches.forEach((batch, b) => {
    const siteIdMap = siteIdMaps[b]
    const visitorIdMap = visitorIdMaps[b]
    for (let row = 0; row < batch.timestampColumn.length; row++) {
      const at = cursor[siteIdMap[batch.siteColumn[row]]]++
      visitorColumn[at] = visitorIdMap[batch.visitorColumn[row]]
      timestampColumn[at] = batch.timestampColumn[row]
    }
  })

  const scratch = new Float64Array(largestSite)
  const visitorSiteCount = new Uint32Array(visitorCount)
  let firstTimestamp = Infinity
  let lastTimestamp = -Infinity
  for (let site = 0; site < siteCount; site++) {
    const from = siteRowStart[site]
    const to = siteRowStart[site + 1]
    sortSiteRows(visitorColumn, timestampColumn, from, to, siteMinTime[site], siteMaxTime[site], visitorCount, scratch)
    firstTimestamp = Math.min(firstTimestamp, siteMinTime[site])
    lastTimestamp = Math.max(lastTimestamp, siteMaxTime[site])
    let previousVisitor = -1
    for (let row = from; row < to; row++) {
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
