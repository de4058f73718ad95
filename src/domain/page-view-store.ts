// The dataset in memory: interned ids and typed columns clustered by site, then visitor, then time.

import { ByteInterner } from './byte-interner.js'
import type { PageViewBatch } from './page-view-batch.js'

/**
 * Every page view, clustered so that one site's views are one contiguous slice in which each visitor's
 * views are together and in time order: sessionizing a site is then a single linear scan with no sorting.
 */
export interface PageViewStore {
  readonly siteUrls: readonly string[]
  readonly siteIdByUrl: ReadonlyMap<string, number>
  /** Visitor ids by name, kept as bytes: a string per visitor would cost more than the visitor's views. */
  readonly visitors: ByteInterner
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

/** Scratch space for grouping one site's rows at a time, sized for the largest site. */
interface GroupingScratch {
  /** A visitor's rank among the visitors of the site being grouped, valid where `rankSite` is that site. */
  readonly rank: Uint32Array
  readonly rankSite: Int32Array
  readonly groupStart: Uint32Array
  readonly visitors: Uint32Array
  readonly times: Float64Array
}

/** Groups with more views than this are sorted natively rather than by insertion. */
const INSERTION_SORT_LIMIT = 32

/**
 * Reorders one site's rows, in place, so that each visitor's views are contiguous and in time order, in
 * O(rows): a counting sort by the visitor's rank of first appearance in the site, then a sort of each
 * visitor's (few) views by time. Visitors need not be in any order for sessions, only together.
 */
function groupSiteRowsByVisitor (
  site: number, visitors: Uint32Array, times: Float64Array, from: number, to: number, scratch: GroupingScratch
): void {
  const { rank, rankSite, groupStart } = scratch
  let groups = 0
  for (let row = from; row < to; row++) {
    const visitor = visitors[row]
    if (rankSite[visitor] !== site) {
      rankSite[visitor] = site
      rank[visitor] = groups
      groupStart[groups++] = 0
    }
    groupStart[rank[visitor]]++
  }
  let sum = 0
  for (let group = 0; group < groups; group++) {
    const count = groupStart[group]
    groupStart[group] = sum
    sum += count
  }
  const groupedVisitors = scratch.visitors
  const groupedTimes = scratch.times
  for (let row = from; row < to; row++) {
    const visitor = visitors[row]
    const at = groupStart[rank[visitor]]++
    groupedVisitors[at] = visitor
    groupedTimes[at] = times[row]
  }
  visitors.set(groupedVisitors.subarray(0, to - from), from)
  times.set(groupedTimes.subarray(0, to - from), from)
  // groupStart[g] is now the end of group g.
  let start = from
  for (let group = 0; group < groups; group++) {
    const end = from + groupStart[group]
    if (end - start > INSERTION_SORT_LIMIT) times.subarray(start, end).sort()
    else {
      for (let i = start + 1; i < end; i++) {
        const time = times[i]
        let j = i - 1
        while (j >= start && times[j] > time) {
          times[j + 1] = times[j]
          j--
        }
        times[j + 1] = time
      }
    }
    start = end
  }
}

/**
 * Merges parsed batches into one store in O(rows + visitors): count each site's rows, scatter rows into
 * their site's slice (remapping ids to the merged dictionaries on the way), then group each slice by visitor.
 * Parsing always yields at least one batch, if an empty one.
 */
export function buildPageViewStore (batches: readonly PageViewBatch[]): PageViewStore {
  const sites = new ByteInterner()
  const siteIdMaps = batches.map(batch => sites.merge(batch.sites))
  // The first batch's visitor dictionary, the largest part of the work, is taken over as it is.
  const visitors = ByteInterner.adopt(batches[0].visitors)
  const visitorIdMaps = batches.map((batch, b) =>
    b === 0 ? Uint32Array.from({ length: visitors.size }, (_, id) => id) : visitors.merge(batch.visitors))
  const siteCount = sites.size
  const visitorCount = visitors.size
  const siteUrls = Array.from({ length: siteCount }, (_, site) => sites.keyOf(site))

  const siteRowStart = new Uint32Array(siteCount + 1)
  let firstTimestamp = Infinity
  let lastTimestamp = -Infinity
  batches.forEach((batch, b) => {
    batch.siteRowCounts.forEach((count, localSite) => { siteRowStart[siteIdMaps[b][localSite] + 1] += count })
    firstTimestamp = Math.min(firstTimestamp, batch.firstTimestamp)
    lastTimestamp = Math.max(lastTimestamp, batch.lastTimestamp)
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

  const scratch: GroupingScratch = {
    rank: new Uint32Array(visitorCount),
    rankSite: new Int32Array(visitorCount).fill(-1),
    groupStart: new Uint32Array(largestSite),
    visitors: new Uint32Array(largestSite),
    times: new Float64Array(largestSite)
  }
  const visitorSiteCount = new Uint32Array(visitorCount)
  for (let site = 0; site < siteCount; site++) {
    const from = siteRowStart[site]
    const to = siteRowStart[site + 1]
    groupSiteRowsByVisitor(site, visitorColumn, timestampColumn, from, to, scratch)
    let previousVisitor = -1
    for (let row = from; row < to; row++) {
      const visitor = visitorColumn[row]
      if (visitor !== previousVisitor) visitorSiteCount[visitor]++
      previousVisitor = visitor
    }
  }

  return {
    siteUrls,
    siteIdByUrl: new Map(siteUrls.map((url, site) => [url, site])),
    visitors,
    siteRowStart,
    visitorColumn,
    timestampColumn,
    visitorSiteCount,
    firstTimestamp: rowCount === 0 ? null : firstTimestamp,
    lastTimestamp: rowCount === 0 ? null : lastTimestamp
  }
}
