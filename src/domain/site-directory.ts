// Every site's headline figures, paged, sorted and filtered for a dashboard that must stay quick with
// 100,000 sites: each sort order is worked out once, then a page is a filtered walk along it.
import type { SiteRow } from './queries.js'

export const SITE_SORT_KEYS = ['site_url', 'page_views', 'visitors', 'num_sessions', 'median_session_length', 'bounce_rate'] as const
export type SiteSortKey = typeof SITE_SORT_KEYS[number]
export type SortOrder = 'asc' | 'desc'

export interface SitePageQuery {
  offset: number
  limit: number
  sort: SiteSortKey
  order: SortOrder
  /** Only sites whose URL contains this, ignoring case; empty: every site. */
  q: string
}

export interface SitePage {
  /** Sites that match the filter, on every page. */
  total: number
  sites: SiteRow[]
}

const isDigit = (code: number) => code >= 48 && code <= 57

/**
 * Natural order: runs of digits compare as numbers (www.s_2 before www.s_10), other characters by code.
 * Hand-written, as Intl.Collator's numeric mode took 0.9 s to sort 90,000 sites, this some 0.1 s.
 */
export function compareNatural (a: string, b: string): number {
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const codeA = a.charCodeAt(i)
    const codeB = b.charCodeAt(j)
    if (isDigit(codeA) && isDigit(codeB)) {
      while (a.charCodeAt(i) === 48) i++
      while (b.charCodeAt(j) === 48) j++
      let endA = i
      let endB = j
      while (isDigit(a.charCodeAt(endA))) endA++
      while (isDigit(b.charCodeAt(endB))) endB++
      // Without leading zeros, the longer run is the larger number; of equal lengths, the first digit that differs decides.
      if (endA - i !== endB - j) return (endA - i) - (endB - j)
      for (; i < endA; i++, j++) {
        if (a.charCodeAt(i) !== b.charCodeAt(j)) return a.charCodeAt(i) - b.charCodeAt(j)
      }
    } else {
      if (codeA !== codeB) return codeA - codeB
      i++
      j++
    }
  }
  // A prefix first; of strings equal but for leading zeros, the shorter first.
  return (a.length - i) - (b.length - j) || a.length - b.length
}

export class SiteDirectory {
  readonly #rows: readonly SiteRow[]
  readonly #lowerCaseUrls: readonly string[]
  /** Row indexes in each order asked for so far: a site list sorts once per order, not once per page. */
  readonly #orders = new Map<string, Uint32Array>()

  constructor (rows: readonly SiteRow[]) {
    // Natural order, ignoring case first, is the base every other order breaks its ties by.
    const lowerCase = rows.map(row => row.site_url.toLowerCase())
    const natural = Array.from(rows, (_, index) => index).sort((a, b) =>
      compareNatural(lowerCase[a], lowerCase[b]) || compareNatural(rows[a].site_url, rows[b].site_url))
    this.#rows = natural.map(index => rows[index])
    this.#lowerCaseUrls = natural.map(index => lowerCase[index])
  }

  get size (): number {
    return this.#rows.length
  }

  page ({ offset, limit, sort, order, q }: SitePageQuery): SitePage {
    const indexes = this.#order(sort, order)
    const filter = q.toLowerCase()
    const sites: SiteRow[] = []
    let total = 0
    for (const index of indexes) {
      if (filter !== '' && !this.#lowerCaseUrls[index].includes(filter)) continue
      if (total >= offset && sites.length < limit) sites.push(this.#rows[index])
      total++
    }
    return { total, sites }
  }

  #order (sort: SiteSortKey, order: SortOrder): Uint32Array {
    const key = `${sort} ${order}`
    let indexes = this.#orders.get(key)
    if (indexes === undefined) {
      const sign = order === 'asc' ? 1 : -1
      const rows = this.#rows
      // Array.prototype.sort is stable: equal figures keep the natural order of their sites.
      const sorted = Array.from(rows, (_, index) => index)
      if (sort === 'site_url') {
        if (order === 'desc') sorted.reverse()
      } else {
        sorted.sort((a, b) => sign * (rows[a][sort] - rows[b][sort]))
      }
      indexes = Uint32Array.from(sorted)
      this.#orders.set(key, indexes)
    }
    return indexes
  }
}
