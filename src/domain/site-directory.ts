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

const byNaturalOrder = new Intl.Collator('en', { numeric: true }).compare

export class SiteDirectory {
  readonly #rows: readonly SiteRow[]
  readonly #lowerCaseUrls: readonly string[]
  /** Row indexes in each order asked for so far: a site list sorts once per order, not once per page. */
  readonly #orders = new Map<string, Uint32Array>()

  constructor (rows: readonly SiteRow[]) {
    // Natural order (www.s_2 before www.s_10) is the base every other order breaks its ties by.
    this.#rows = [...rows].sort((a, b) => byNaturalOrder(a.site_url, b.site_url))
    this.#lowerCaseUrls = this.#rows.map(row => row.site_url.toLowerCase())
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
