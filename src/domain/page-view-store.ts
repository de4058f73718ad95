// The dataset in memory: interned ids and typed columns clustered by site, then visitor, then time.

import { ByteInterner, KeyList, type DictionaryKeys } from './byte-interner.js'
import type { PageViewBatch } from '../ingest/page-view-batch.js'
import { concatenated } from './typed-arrays.js'

/**
 * Every page view, clustered so that one site's views are one contiguous slice in which each visitor's
 * views are together and in time order: sessionizing a site is then a single linear scan with no sorting.
 */
export interface PageViewStore {
  readonly siteUrls: readonly string[]
  readonly siteIdByUrl: ReadonlyMap<string, number>
  /** Visitor ids by name, kept as bytes: a string per visitor would cost more than the visitor's views. */
  readonly visitors: ByteInterner
  /** Page URLs (page_view_url) by id, kept as bytes like visitors (there may be as many), and only read by id. */
  readonly pages: KeyList
  /** Site s owns rows siteRowStart[s] to siteRowStart[s + 1] (exclusive). */
  readonly siteRowStart: Uint32Array
  readonly visitorColumn: Uint32Array
  readonly pageColumn: Uint32Array
  readonly timestampColumn: Float64Array
  /** Distinct sites each visitor has viewed. */
  readonly visitorSiteCount: Uint32Array
  readonly firstTimestamp: number | null
  readonly lastTimestamp: number | null
}

/**
 * The store as sessions, visitors and time ranges read it: all of it but the pages, which a load merges last,
 * after the store is ready for everything else (see mergePages).
 */
export type SessionStore = Omit<PageViewStore, 'pages' | 'pageColumn'>

export function siteRowCount (store: SessionStore, siteId: number): number {
  return store.siteRowStart[siteId + 1] - store.siteRowStart[siteId]
}

/** Scratch space for grouping one site's rows at a time, sized for the largest site. */
interface GroupingScratch {
  /**
   * A hash table of the site's visitors, open addressing: in each slot, a visitor's id + 1 (0: empty) and its
   * rank among the site's visitors. A table the size of the site stays in the CPU's caches, where an array
   * indexed by every visitor of the data (700 K at 10 M rows) missed them on nearly every row.
   */
  readonly slotVisitors: Uint32Array
  readonly slotRanks: Uint32Array
  /** Each row's visitor's rank, so that the second pass does not look it up again. */
  readonly rowRanks: Uint32Array
  /** The site's visitors, by rank. */
  readonly rankVisitors: Uint32Array
  readonly groupStart: Uint32Array
  readonly visitors: Uint32Array
  readonly pages: Uint32Array
  readonly times: Float64Array
}

/** A site's rows, by column: what grouping reorders. */
interface RowColumns {
  readonly visitors: Uint32Array
  readonly pages: Uint32Array
  readonly times: Float64Array
}

/** Groups with more views than this are sorted by merging their runs rather than by insertion. */
const INSERTION_SORT_LIMIT = 32

/**
 * `first`, `first + 1`, … `count` numbers. A loop: `Uint32Array.from({ length }, …)` takes V8's slow path for
 * array-likes, some 90 ns a number, which at 600 K visitors was 55 ms of the build's main thread.
 */
function countingFrom (first: number, count: number): Uint32Array {
  const numbers = new Uint32Array(count)
  for (let i = 0; i < count; i++) numbers[i] = first + i
  return numbers
}

/** Rows as a site's grouping holds them, by time and page: a column's, or scratch space's. */
interface TimedPages {
  readonly times: Float64Array
  readonly pages: Uint32Array
}

/**
 * Merges each two neighbouring runs of `from`'s rows, [bounds[r], bounds[r + 1]) and [bounds[r + 1],
 * bounds[r + 2]), into `to`, stably (of two rows of the same time, the earlier first); a run left alone is copied.
 * Rows are at `fromAt` + i and `toAt` + i. Returns the merged runs' bounds.
 */
function mergeRuns (from: TimedPages, fromAt: number, to: TimedPages, toAt: number, bounds: readonly number[]): number[] {
  const { times: fromTimes, pages: fromPages } = from
  const { times: toTimes, pages: toPages } = to
  const merged = [0]
  for (let r = 0; r + 1 < bounds.length; r += 2) {
    const middle = bounds[r + 1]
    const end = r + 2 < bounds.length ? bounds[r + 2] : middle
    let left = bounds[r]
    let right = middle
    let at = left
    while (left < middle || right < end) {
      const take = right === end || (left < middle && fromTimes[fromAt + left] <= fromTimes[fromAt + right]) ? left++ : right++
      toTimes[toAt + at] = fromTimes[fromAt + take]
      toPages[toAt + at++] = fromPages[fromAt + take]
    }
    merged.push(end)
  }
  return merged
}

/**
 * Sorts rows [start, end) by time, in place, carrying their pages along; rows of the same time keep their order.
 * Few rows (a visitor's views of a site, as a rule) are sorted by insertion. More come as a few runs already in
 * time order (a file's rows are, and a visitor's views come file by file): neighbouring runs are merged, through
 * `spare`, pass after pass. On 10 M rows made elsewhere, a sort through an index (a comparator for every pair) took
 * a fifth of a build worker's grouping.
 */
function sortRowsByTime (rows: TimedPages, start: number, end: number, spare: TimedPages): void {
  const { pages, times } = rows
  if (end - start > INSERTION_SORT_LIMIT) {
    let bounds = [0]
    for (let row = start + 1; row < end; row++) if (times[row] < times[row - 1]) bounds.push(row - start)
    bounds.push(end - start)
    let [from, fromAt, to, toAt] = [rows, start, spare, 0]
    while (bounds.length > 2) {
      bounds = mergeRuns(from, fromAt, to, toAt, bounds);
      [from, fromAt, to, toAt] = [to, toAt, from, fromAt]
    }
    if (from === spare) {
      times.set(spare.times.subarray(0, end - start), start)
      pages.set(spare.pages.subarray(0, end - start), start)
    }
    return
  }
  for (let i = start + 1; i < end; i++) {
    const time = times[i]
    const page = pages[i]
    let j = i - 1
    while (j >= start && times[j] > time) {
      times[j + 1] = times[j]
      pages[j + 1] = pages[j]
      j--
    }
    times[j + 1] = time
    pages[j + 1] = page
  }
}

/**
 * The bits of a slot's index in a hash table for `keys` keys: at least twice as many slots as keys (and at least
 * 16), so that a table that full finds a key in a probe or two.
 */
function hashSlotBits (keys: number): number {
  return Math.max(4, Math.ceil(Math.log2(keys * 2)))
}

/**
 * Reorders one site's rows, in place, so that each visitor's views are contiguous and in time order, in
 * O(rows): a counting sort by the visitor's rank of first appearance in the site, then a sort of each
 * visitor's (few) views by time. Visitors need not be in any order for sessions, only together. Counts the
 * site in visitorSiteCount for each of its visitors, as it meets them.
 */
function groupSiteRowsByVisitor ({ visitors, pages, times }: RowColumns, from: number, to: number, visitorSiteCount: Uint32Array, scratch: GroupingScratch): void {
  const { slotVisitors, slotRanks, rowRanks, rankVisitors, groupStart } = scratch
  const slotBits = hashSlotBits(Math.min(to - from, visitorSiteCount.length))
  const mask = 2 ** slotBits - 1
  slotVisitors.fill(0, 0, mask + 1)
  let groups = 0
  for (let row = from; row < to; row++) {
    const key = visitors[row] + 1
    // Fibonacci hashing: the product's top bits, which every bit of the id stirs.
    let slot = Math.imul(key, 0x9e3779b1) >>> (32 - slotBits)
    let found = slotVisitors[slot]
    while (found !== 0 && found !== key) {
      slot = (slot + 1) & mask
      found = slotVisitors[slot]
    }
    if (found === 0) {
      slotVisitors[slot] = key
      slotRanks[slot] = groups
      rankVisitors[groups] = key - 1
      groupStart[groups++] = 0
    }
    const rank = slotRanks[slot]
    rowRanks[row - from] = rank
    groupStart[rank]++
  }
  // In a loop of their own: each count is a cache miss, which the processor overlaps only in a loop this plain.
  for (let group = 0; group < groups; group++) visitorSiteCount[rankVisitors[group]]++
  let sum = 0
  for (let group = 0; group < groups; group++) {
    const count = groupStart[group]
    groupStart[group] = sum
    sum += count
  }
  const groupedVisitors = scratch.visitors
  const groupedPages = scratch.pages
  const groupedTimes = scratch.times
  for (let row = from; row < to; row++) {
    const at = groupStart[rowRanks[row - from]]++
    groupedVisitors[at] = visitors[row]
    groupedPages[at] = pages[row]
    groupedTimes[at] = times[row]
  }
  visitors.set(groupedVisitors.subarray(0, to - from), from)
  pages.set(groupedPages.subarray(0, to - from), from)
  times.set(groupedTimes.subarray(0, to - from), from)
  // groupStart[g] is now the end of group g; the scratch rows, copied back, are free for the sort to merge through.
  const rows = { pages, times }
  const spare = { pages: groupedPages, times: groupedTimes }
  let start = from
  for (let group = 0; group < groups; group++) {
    const end = from + groupStart[group]
    sortRowsByTime(rows, start, end, spare)
    start = end
  }
}

/**
 * How the batches become one store: merged dictionaries but the pages', visitor id maps, and where each
 * batch's rows go.
 */
export interface StorePlan {
  readonly siteUrls: string[]
  readonly visitors: ByteInterner
  readonly visitorIdMaps: Uint32Array[]
  /**
   * What each batch's page ids are offset by in the store's page column until mergePages: batch b's page i is
   * pageIdOffsets[b] + i there. The pages' merge, some 0.7 s of one thread at 10 M rows made elsewhere (2.3 M
   * URLs), waits until every site is sessionized, which no page is needed for. When the batches' pages were left
   * for later (PageViewBatch.pagesDeferred), what each batch's row numbers are offset by: the page column then
   * holds each row's number in the parse, batch after batch (see rewritePageIds).
   */
  readonly pageIdOffsets: number[]
  readonly siteRowStart: Uint32Array
  /** For each batch, where its rows of each of its sites start in the store. */
  readonly batchSiteCursors: Uint32Array[]
  readonly firstTimestamp: number
  readonly lastTimestamp: number
}

/**
 * One dictionary of the batches' dictionaries, and the id in it of each batch's ids. The first batch's is taken
 * over as it is, with room made at once for every key of the others (as if none were shared, the most there can
 * be): a dictionary made afresh, or grown by doubling, held two copies of the keys at the build's busiest moment.
 */
function mergeDictionaries (dictionaries: readonly DictionaryKeys[]): { merged: ByteInterner, idMaps: Uint32Array[] } {
  const merged = ByteInterner.adopt(dictionaries[0])
  const others = dictionaries.slice(1)
  merged.reserve(others.reduce((sum, keys) => sum + keys.ends.length, 0), others.reduce((sum, keys) => sum + keys.bytes.length, 0))
  const idMaps = [countingFrom(0, merged.size), ...others.map(keys => merged.merge(keys))]
  return { merged, idMaps }
}

/**
 * Merges the batches' dictionaries of sites, takes the visitors of the first, which holds every batch's (see
 * PageViewBatch.mergedVisitorIds), and lays out the store. Parsing always yields at least one batch, the first
 * adoptable.
 */
export function planStore (batches: readonly PageViewBatch[]): StorePlan {
  const [first] = batches
  if (first.mergedVisitorIds.length !== batches.length - 1) {
    throw new Error(`the first of ${batches.length} batches merged the visitors of ${first.mergedVisitorIds.length} others`)
  }
  const { merged: sites, idMaps: siteIdMaps } = mergeDictionaries(batches.map(batch => batch.sites))
  const visitors = ByteInterner.adopt(first.visitors)
  const visitorIdMaps = [countingFrom(0, visitors.size), ...first.mergedVisitorIds]
  const pageIdOffsets: number[] = []
  let pageIds = 0
  for (const batch of batches) {
    pageIdOffsets.push(pageIds)
    pageIds += batch.pagesDeferred ? batch.timestampColumn.length : batch.pages.ends.length
  }
  const siteCount = sites.size

  const siteRowStart = new Uint32Array(siteCount + 1)
  batches.forEach((batch, b) => {
    batch.siteRowCounts.forEach((count, localSite) => { siteRowStart[siteIdMaps[b][localSite] + 1] += count })
  })
  for (let site = 0; site < siteCount; site++) siteRowStart[site + 1] += siteRowStart[site]
  const next = siteRowStart.slice(0, siteCount)
  const batchSiteCursors = batches.map((batch, b) => batch.siteRowCounts.map((count, localSite) => {
    const site = siteIdMaps[b][localSite]
    next[site] += count
    return next[site] - count
  }))

  return {
    siteUrls: Array.from({ length: siteCount }, (_, site) => sites.keyOf(site)),
    visitors,
    visitorIdMaps,
    pageIdOffsets,
    siteRowStart,
    batchSiteCursors,
    firstTimestamp: Math.min(...batches.map(batch => batch.firstTimestamp)),
    lastTimestamp: Math.max(...batches.map(batch => batch.lastTimestamp))
  }
}

export type BatchColumns = Pick<PageViewBatch, 'siteColumn' | 'visitorColumn' | 'pageColumn' | 'timestampColumn'>

/** The store's columns, as they are filled. */
export interface StoreColumns {
  readonly visitorColumn: Uint32Array
  readonly pageColumn: Uint32Array
  readonly timestampColumn: Float64Array
}

/** Copies one batch's rows into their sites' slices of the store's columns, remapping visitor ids and offsetting page ids. */
export function scatterRows (
  batch: BatchColumns, visitorIdMap: Uint32Array, pageIdOffset: number, siteCursor: Uint32Array,
  { visitorColumn, pageColumn, timestampColumn }: StoreColumns
): void {
  // The cursors are by the batch's own site ids, so no site id needs remapping per row.
  const cursor = siteCursor.slice()
  for (let row = 0; row < batch.timestampColumn.length; row++) {
    const at = cursor[batch.siteColumn[row]]++
    visitorColumn[at] = visitorIdMap[batch.visitorColumn[row]]
    pageColumn[at] = batch.pageColumn[row] + pageIdOffset
    timestampColumn[at] = batch.timestampColumn[row]
  }
}

/**
 * Merges the batches' page dictionaries, in batch order, and rewrites the page column, which holds page ids as
 * scatterRows offset them (StorePlan.pageIdOffsets), in the merged dictionary's ids. Returns the merged keys.
 */
export function mergePages (pages: readonly DictionaryKeys[], pageColumn: Uint32Array): Pick<DictionaryKeys, 'bytes' | 'ends'> {
  const { merged, idMaps } = mergeDictionaries(pages)
  rewritePageIds(pageColumn, concatenated(idMaps))
  const { bytes, ends } = merged.keys()
  return { bytes, ends }
}

/**
 * Rewrites each id in a page column as `ids` maps it: the batches' page ids (offset as StorePlan.pageIdOffsets
 * offsets them) to a merge's (mergePages), or, for batches that left their pages for later, each row's number in
 * the parse to its page id, as the pages' read after found them.
 */
export function rewritePageIds (pageColumn: Uint32Array, ids: Uint32Array): void {
  for (let at = 0; at < pageColumn.length; at++) pageColumn[at] = ids[pageColumn[at]]
}

/** Scratch space for grouping a site of up to `rows` rows, in a store of `visitorCount` visitors. */
function groupingScratch (rows: number, visitorCount: number): GroupingScratch {
  const slots = 2 ** hashSlotBits(Math.min(rows, visitorCount))
  return {
    slotVisitors: new Uint32Array(slots),
    slotRanks: new Uint32Array(slots),
    rowRanks: new Uint32Array(rows),
    rankVisitors: new Uint32Array(rows),
    groupStart: new Uint32Array(rows),
    visitors: new Uint32Array(rows),
    pages: new Uint32Array(rows),
    times: new Float64Array(rows)
  }
}

/**
 * What groups one site's rows by visitor, each visitor's views in time order, and adds the site to the count of
 * distinct sites of each of its visitors (`visitorSiteCount`, one count per visitor of the store). Its scratch
 * space is made for the largest site so far, afresh when a larger one comes: a worker does not know which sites
 * it will group (see siteChunks).
 */
export function siteGrouper (siteRowStart: Uint32Array, columns: StoreColumns, visitorSiteCount: Uint32Array): (site: number) => void {
  let scratch = groupingScratch(0, 0)
  const rows = { visitors: columns.visitorColumn, pages: columns.pageColumn, times: columns.timestampColumn }
  return site => {
    const from = siteRowStart[site]
    const to = siteRowStart[site + 1]
    if (to - from > scratch.rowRanks.length) scratch = groupingScratch(to - from, visitorSiteCount.length)
    groupSiteRowsByVisitor(rows, from, to, visitorSiteCount, scratch)
  }
}

/**
 * The sites cut into chunks of neighbouring sites of at most `rowsPerChunk` rows (or one site, when it has more),
 * as (from site, to site) pairs, the chunks of most rows first: build workers take chunk after chunk until none
 * is left, so that they finish together whatever each chunk costs, a large site first rather than last.
 */
export function siteChunks (siteRowStart: Uint32Array, rowsPerChunk: number): Uint32Array {
  const chunks: { from: number, to: number, rows: number }[] = []
  const siteCount = siteRowStart.length - 1
  for (let from = 0; from < siteCount;) {
    let to = from + 1
    while (to < siteCount && siteRowStart[to + 1] - siteRowStart[from] <= rowsPerChunk) to++
    chunks.push({ from, to, rows: siteRowStart[to] - siteRowStart[from] })
    from = to
  }
  return Uint32Array.from(chunks.sort((a, b) => b.rows - a.rows).flatMap(({ from, to }) => [from, to]))
}

/** The store but its pages, once every site's rows are in place and grouped, and each visitor's distinct sites counted. */
export function finishStore (plan: StorePlan, { visitorColumn, timestampColumn }: StoreColumns, visitorSiteCount: Uint32Array): SessionStore {
  const { siteUrls, siteRowStart, visitors } = plan
  const rowCount = timestampColumn.length
  return {
    siteUrls,
    siteIdByUrl: new Map(siteUrls.map((url, site) => [url, site])),
    visitors,
    siteRowStart,
    visitorColumn,
    timestampColumn,
    visitorSiteCount,
    firstTimestamp: rowCount === 0 ? null : plan.firstTimestamp,
    lastTimestamp: rowCount === 0 ? null : plan.lastTimestamp
  }
}

/** The whole store: the rest of it, and its pages once merged (mergePages), kept by id only: no query looks a page up by URL. */
export function withPages (store: SessionStore, pageColumn: Uint32Array, pages: Pick<DictionaryKeys, 'bytes' | 'ends'>): PageViewStore {
  return { ...store, pages: new KeyList(pages), pageColumn }
}

/**
 * Merges parsed batches into one store on this thread, in O(rows + visitors): plan, scatter each batch's
 * rows into their site's slice, group each slice by visitor, merge the pages. Worker threads run the same steps
 * in parallel.
 */
export function buildPageViewStore (batches: readonly PageViewBatch[]): PageViewStore {
  const plan = planStore(batches)
  const rowCount = plan.siteRowStart[plan.siteUrls.length]
  const columns = { visitorColumn: new Uint32Array(rowCount), pageColumn: new Uint32Array(rowCount), timestampColumn: new Float64Array(rowCount) }
  batches.forEach((batch, b) => scatterRows(batch, plan.visitorIdMaps[b], plan.pageIdOffsets[b], plan.batchSiteCursors[b], columns))
  const visitorSiteCount = new Uint32Array(plan.visitors.size)
  const group = siteGrouper(plan.siteRowStart, columns, visitorSiteCount)
  for (let site = 0; site < plan.siteUrls.length; site++) group(site)
  const pages = mergePages(batches.map(batch => batch.pages), columns.pageColumn)
  return withPages(finishStore(plan, columns, visitorSiteCount), columns.pageColumn, pages)
}
