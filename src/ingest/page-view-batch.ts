// Columnar page views with their own dictionaries: what parsing produces, before the store merges it.
import type { DictionaryKeys } from '../domain/byte-interner.js'
import { ParseDictionaries, type DictionarySizes, type Interned, type WasmInterner } from './parse-dictionaries.js'
import { concatenated, grown } from '../domain/typed-arrays.js'

/** Page views as columns; ids index the batch's own dictionaries. */
export interface PageViewBatch {
  readonly sites: DictionaryKeys
  /**
   * Adoptable, or, for a batch whose visitors another merges (see mergedVisitorIds), keys only: those not handed
   * over before (see PageViewBatchBuilder.newVisitorKeys), all of them when none were.
   */
  readonly visitors: DictionaryKeys
  /** Empty when the pages were left for later: the page column then holds each row's number in the batch. */
  readonly pages: DictionaryKeys
  readonly pagesDeferred: boolean
  readonly siteColumn: Uint32Array
  readonly visitorColumn: Uint32Array
  readonly pageColumn: Uint32Array
  readonly timestampColumn: Float64Array
  /** Rows of each site (by the batch's site id), and the time range: counted where the batch was parsed. */
  readonly siteRowCounts: Uint32Array
  readonly firstTimestamp: number
  readonly lastTimestamp: number
  /** Of the rows' timestamps in order (withTimestamp): how a later parse of the same ranges knows it read the same rows. */
  readonly checksum: number
  /**
   * The visitors of the other batches of a store, merged into this one's, batch by batch: the id in `visitors`
   * of each of their ids. A store of several batches takes every visitor from its first (see planStore).
   */
  readonly mergedVisitorIds: Uint32Array[]
}

const INITIAL_CAPACITY = 1024

/** Folds a row's timestamp into the checksum of the rows before it (FNV-1a, over the timestamp's low 32 bits). */
const withTimestamp = (checksum: number, timestamp: number): number => Math.imul(checksum ^ timestamp, 0x01000193)

/** Visitors another batch hands over to be merged into a builder's, and which batch: the caller's number for it. */
export interface VisitorsFrom {
  source: number
  keys: Pick<DictionaryKeys, 'bytes' | 'ends'>
}

/** What a parse expects, to size its dictionaries and its columns. */
export interface ExpectedSizes extends DictionarySizes {
  rows: number
}

/**
 * What a parse of `bytes` of CSV expects: guesses, only to size its dictionaries and its columns up front (see
 * ParseDictionaries).
 * - Visitors, one per 560 bytes of CSV: the generated data has one per 480 (60 bytes a view, 8 views a visitor),
 *   data made elsewhere one per 1,465 (UUIDs, long URLs). Both get a table of 2 M slots a parse at 10 M rows; at
 *   480, the second got 4 M (33.5 MB when slots were 8 bytes, touched all over for 560 K keys, and saved so), and
 *   a peak 25–35 MB higher. Too few is a rehash as it grows.
 * - Pages, one per 400 bytes: as many as a log whose URLs carry query strings has (10 M rows made elsewhere: 2.3 M
 *   URLs, 1.3 M of them in each parse's 543 MB), whose table then never grows. A log of few pages pays a table
 *   sized so all the same: the pages' read after a load on workers, which expects the pages of every byte, one of
 *   8 M slots at 10 M rows (128 MB, held while it reads; the generated set's peak, 520 MB, comes before it).
 * - Rows, generously: at least 40 bytes a view. Columns past what is written take no memory.
 * - Room for each of the visitors' and the pages' keys, a quarter of the bytes: most rows repeat keys seen before
 *   (the pages' keys were a ninth of the bytes at 10 M rows made elsewhere).
 */
export function expectedSizes (bytes: number): ExpectedSizes {
  return {
    visitors: Math.ceil(bytes / 560),
    pages: Math.ceil(bytes / 400),
    rows: Math.ceil(bytes / 40),
    keyBytes: Math.ceil(bytes / 4)
  }
}

/** The dictionaries' sizes a parse expects, none for those it does not intern. */
function dictionarySizes (expected: Partial<DictionarySizes>, interned: Interned): Partial<DictionarySizes> {
  if (interned === 'allButPages') return { ...expected, pages: 0 }
  if (interned === 'pagesOnly') return { ...expected, visitors: 0 }
  return expected
}

/** Interns ids and appends rows into columns grown geometrically; no object is kept per row. */
export class PageViewBatchBuilder {
  readonly #interned: Interned
  #dictionaries: ParseDictionaries

  #siteColumn: Uint32Array<ArrayBuffer>
  #visitorColumn: Uint32Array<ArrayBuffer>
  #pageColumn: Uint32Array<ArrayBuffer>
  #timestampColumn: Float64Array<ArrayBuffer>
  #length = 0
  /**
   * Rows of each site, and the time range, counted as rows are added, while they are in the CPU's cache: a pass
   * over the columns when the batch is finished took 70–130 ms of the last parse worker, at 10 M rows, while the
   * build waited for it.
   */
  #siteRowCounts = new Uint32Array(64)
  #firstTimestamp = Infinity
  #lastTimestamp = -Infinity
  #checksum = 0
  /** Visitors handed over so far (newVisitorKeys). */
  #visitorsHandedOver = 0
  /** For each other batch (by its source number), the ids here of the visitors it handed over, piece by piece. */
  readonly #mergedVisitors = new Map<number, Uint32Array[]>()

  /**
   * `expected` sizes the dictionaries up front (see ParseDictionaries), and the columns: growing one copies it,
   * and holds both copies for a moment, which was the largest moment of a load's memory. Too many rows costs
   * nothing: the end of a column never written takes no memory. `interned`: the ids looked up; a row's id that is
   * not is 0, and its page id, when the pages are left for later, its number in the batch.
   */
  constructor (expected: Partial<ExpectedSizes> = {}, interned: Interned = 'all') {
    this.#interned = interned
    this.#dictionaries = new ParseDictionaries(dictionarySizes(expected, interned))
    const capacity = Math.max(INITIAL_CAPACITY, expected.rows ?? 0)
    this.#siteColumn = new Uint32Array(capacity)
    this.#visitorColumn = new Uint32Array(capacity)
    this.#pageColumn = new Uint32Array(capacity)
    this.#timestampColumn = new Float64Array(capacity)
  }

  get length (): number {
    return this.#length
  }

  get sites (): WasmInterner {
    return this.#dictionaries.sites
  }

  get visitors (): WasmInterner {
    return this.#dictionaries.visitors
  }

  get pages (): WasmInterner {
    return this.#dictionaries.pages
  }

  /** Gives addPlainLines the bytes it reads, until the next call. */
  setPlainLines (data: Uint8Array): void {
    this.#dictionaries.setLines(data)
  }

  /**
   * Appends the rows of lines [from, to) of the bytes setPlainLines gave, as far as each is plain
   * (ParseDictionaries.readLines); returns where it stopped and how many lines and rows it read. With
   * `lastLineEnds`, `to` ends a last line that has no line break.
   */
  addPlainLines (from: number, to: number, maxLine: number, lastLineEnds: boolean): { end: number, lines: number, rows: number } {
    const interned = this.#interned
    const { end, lines, rows, siteIds, visitorIds, pageIds, timestamps, firstTimestamp, lastTimestamp } = this.#dictionaries.readLines(from, to, maxLine, lastLineEnds, interned)
    while (this.#length + rows > this.#timestampColumn.length) this.#grow()
    const at = this.#length
    // A parse of the pages alone keeps only their ids, and the checksum.
    if (interned !== 'pagesOnly') {
      if (this.sites.size > this.#siteRowCounts.length) this.#siteRowCounts = grown(this.#siteRowCounts, this.sites.size)
      const siteRowCounts = this.#siteRowCounts
      for (let i = 0; i < rows; i++) siteRowCounts[siteIds[i]]++
      this.#siteColumn.set(siteIds, at)
      this.#visitorColumn.set(visitorIds, at)
      this.#timestampColumn.set(timestamps, at)
    }
    if (interned === 'allButPages') {
      const pageColumn = this.#pageColumn
      for (let row = at; row < at + rows; row++) pageColumn[row] = row
    } else {
      this.#pageColumn.set(pageIds, at)
    }
    let checksum = this.#checksum
    for (let i = 0; i < rows; i++) checksum = withTimestamp(checksum, timestamps[i])
    this.#checksum = checksum
    this.#firstTimestamp = Math.min(this.#firstTimestamp, firstTimestamp)
    this.#lastTimestamp = Math.max(this.#lastTimestamp, lastTimestamp)
    this.#length += rows
    return { end, lines, rows }
  }

  /** Appends a row whose ids the caller interned. */
  addIds (visitorId: number, siteId: number, pageId: number, timestamp: number): void {
    if (this.#length === this.#timestampColumn.length) this.#grow()
    if (siteId >= this.#siteRowCounts.length) this.#siteRowCounts = grown(this.#siteRowCounts, siteId + 1)
    const row = this.#length++
    this.#siteColumn[row] = siteId
    this.#visitorColumn[row] = visitorId
    this.#pageColumn[row] = pageId
    this.#timestampColumn[row] = timestamp
    this.#siteRowCounts[siteId]++
    if (timestamp < this.#firstTimestamp) this.#firstTimestamp = timestamp
    if (timestamp > this.#lastTimestamp) this.#lastTimestamp = timestamp
    this.#checksum = withTimestamp(this.#checksum, timestamp)
  }

  add (visitorId: string, siteUrl: string, pageUrl: string, timestamp: number): void {
    if (this.#interned === 'pagesOnly') return this.#addPage(this.pages.internString(pageUrl), timestamp)
    const pageId = this.#interned === 'allButPages' ? this.#length : this.pages.internString(pageUrl)
    this.addIds(this.visitors.internString(visitorId), this.sites.internString(siteUrl), pageId, timestamp)
  }

  #addPage (pageId: number, timestamp: number): void {
    if (this.#length === this.#pageColumn.length) this.#grow()
    this.#pageColumn[this.#length++] = pageId
    this.#checksum = withTimestamp(this.#checksum, timestamp)
  }

  /**
   * The checksum of the rows added since the last call, or since the start (PageViewBatch.checksum): a parse of
   * several batches' ranges in turn checks each batch's rows by it. A batch finished after a call has the
   * checksum of the rows added after it.
   */
  takeChecksum (): number {
    const checksum = this.#checksum
    this.#checksum = 0
    return checksum
  }

  /**
   * The visitors added since the last call (all of them, the first time), keys only. A parse on several workers
   * hands each worker's new visitors, range after range, to the worker whose batch the store adopts, which
   * merges them as they come (mergeVisitors), between its own ranges: when the parse ends, what is left to merge,
   * while every other worker waits, is the visitors of the last ranges, not every visitor of the other parses
   * (0.12–0.3 s at 10 M rows made elsewhere, 0.17–0.21 s generated).
   */
  newVisitorKeys (): Pick<DictionaryKeys, 'bytes' | 'ends'> {
    const keys = this.visitors.keysFrom(this.#visitorsHandedOver)
    this.#visitorsHandedOver = this.visitors.size
    return keys
  }

  /** Merges visitors that the batch numbered `source` handed over (newVisitorKeys) into this one's, in WebAssembly. */
  mergeVisitors ({ source, keys }: VisitorsFrom): void {
    const ids = this.visitors.merge(keys)
    const pieces = this.#mergedVisitors.get(source)
    if (pieces === undefined) this.#mergedVisitors.set(source, [ids])
    else pieces.push(ids)
  }

  /**
   * Returns the columns as views of the rows added, each over a buffer of its own (so it can be transferred).
   * Views, not trimmed copies: a copy would hold every column twice at once, and the unused end of a grown
   * buffer, never written, takes no memory. The dictionaries come adoptable, or as keys only for a batch that
   * a merge adds to another one's (see WasmInterner.keys), its visitors those not handed over yet. `others`, the
   * other batches of a store in their order, with the visitors each has not handed over yet, are merged into this
   * batch's visitors (see mergedVisitorIds), after what they handed over before (mergeVisitors).
   */
  finish (adoptable = true, others: readonly VisitorsFrom[] = []): PageViewBatch {
    const mergedVisitorIds = others.map(other => {
      this.mergeVisitors(other)
      return concatenated(this.#mergedVisitors.get(other.source)!)
    })
    const length = this.#length
    // Every site interned has a row: the counts are as many as the sites.
    const siteRowCounts = this.#siteRowCounts.slice(0, this.sites.size)
    return {
      sites: this.sites.keys(adoptable),
      visitors: adoptable ? this.visitors.keys() : { ...this.newVisitorKeys(), slots: new Int32Array(0), seed: this.visitors.seed },
      pages: this.pages.keys(adoptable),
      pagesDeferred: this.#interned === 'allButPages',
      siteColumn: this.#siteColumn.subarray(0, length),
      visitorColumn: this.#visitorColumn.subarray(0, length),
      pageColumn: this.#pageColumn.subarray(0, length),
      timestampColumn: this.#timestampColumn.subarray(0, length),
      siteRowCounts,
      firstTimestamp: this.#firstTimestamp,
      lastTimestamp: this.#lastTimestamp,
      checksum: this.#checksum,
      mergedVisitorIds
    }
  }

  /**
   * Hands over the rows added so far as a batch, and starts afresh: for a load that streams its rows onward.
   * The batch's columns are views that the next rows overwrite: it must be used before any is added.
   */
  drain (): PageViewBatch {
    const batch = this.finish()
    this.#dictionaries = new ParseDictionaries(dictionarySizes({}, this.#interned))
    this.#visitorsHandedOver = 0
    this.#mergedVisitors.clear()
    this.#length = 0
    this.#siteRowCounts.fill(0)
    this.#firstTimestamp = Infinity
    this.#lastTimestamp = -Infinity
    this.#checksum = 0
    return batch
  }

  #grow (): void {
    this.#siteColumn = grown(this.#siteColumn, 0)
    this.#visitorColumn = grown(this.#visitorColumn, 0)
    this.#pageColumn = grown(this.#pageColumn, 0)
    this.#timestampColumn = grown(this.#timestampColumn, 0)
  }
}
