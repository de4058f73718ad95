// A seeded generator of realistic page-view logs: sessions of several views, returning visitors, files
// that overlap in time, duplicates, and gaps right at the session timeout.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'

export interface GeneratorOptions {
  rows: number
  sites: number
  visitors: number
  files: number
  out: string
  seed: number
  /** First timestamp, epoch seconds. */
  start: number
  /** How many days the log spans. */
  days: number
}

export const DEFAULT_GENERATOR_OPTIONS: GeneratorOptions = {
  rows: 30_000,
  sites: 10,
  visitors: 3_000,
  files: 3,
  out: 'data',
  seed: 1,
  start: 1_347_844_442,
  days: 7
}

/** mulberry32: a small, fast, seedable PRNG; the same seed always gives the same log. */
export function seededRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const MEAN_VIEWS_PER_SESSION = 4
const PAGES_PER_SITE = 20
const FLUSH_BYTES = 1 << 16

/** Seconds until a session's next view: mostly short, sometimes exactly at or just past the timeout. */
function nextGap (random: () => number): number {
  const roll = random()
  if (roll < 0.03) return 1800
  if (roll < 0.05) return 1801
  if (roll < 0.10) return 1800 + Math.floor(random() * 7200)
  if (roll < 0.12) return 0
  return 1 + Math.floor(random() * 900)
}

/** A min-heap of active sessions keyed by the time of their next view. */
class SessionHeap {
  time: number[] = []
  visitor: number[] = []
  site: number[] = []
  viewsLeft: number[] = []

  get size (): number { return this.time.length }

  push (time: number, visitor: number, site: number, viewsLeft: number): void {
    this.time.push(time)
    this.visitor.push(visitor)
    this.site.push(site)
    this.viewsLeft.push(viewsLeft)
    this.#up(this.time.length - 1)
  }

  /** Moves the top session to `time`, or removes it when it has no view left. */
  advanceTop (time: number): void {
    if (--this.viewsLeft[0] === 0) {
      const last = this.time.length - 1
      this.#move(last, 0)
      this.time.pop(); this.visitor.pop(); this.site.pop(); this.viewsLeft.pop()
    } else {
      this.time[0] = time
    }
    this.#down(0)
  }

  #move (from: number, to: number): void {
    this.time[to] = this.time[from]
    this.visitor[to] = this.visitor[from]
    this.site[to] = this.site[from]
    this.viewsLeft[to] = this.viewsLeft[from]
  }

  #swap (a: number, b: number): void {
    for (const column of [this.time, this.visitor, this.site, this.viewsLeft]) {
      const held = column[a]
      column[a] = column[b]
      column[b] = held
    }
  }

  #up (i: number): void {
    let parent = (i - 1) >> 1
    while (i > 0 && this.time[parent] > this.time[i]) {
      this.#swap(i, parent)
      i = parent
      parent = (i - 1) >> 1
    }
  }

  #down (i: number): void {
    const n = this.time.length
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < n && this.time[left] < this.time[smallest]) smallest = left
      if (right < n && this.time[right] < this.time[smallest]) smallest = right
      if (smallest === i) return
      this.#swap(i, smallest)
      i = smallest
    }
  }
}

/** Buffered appends to one CSV file. */
class CsvWriter {
  readonly #fd: number
  #buffer = ''

  constructor (path: string) {
    this.#fd = openSync(path, 'w')
  }

  write (line: string): void {
    this.#buffer += line
    if (this.#buffer.length >= FLUSH_BYTES) this.#flush()
  }

  close (): void {
    this.#flush()
    closeSync(this.#fd)
  }

  #flush (): void {
    writeSync(this.#fd, this.#buffer)
    this.#buffer = ''
  }
}

/**
 * Writes `files` CSV files (`page_views_1.csv`, …) into `out`, `rows` page views in all. Views are emitted in
 * time order and each goes to a random file, so every file is sorted by time and all files overlap.
 * Returns the paths written.
 */
export function generatePageViews (options: GeneratorOptions): string[] {
  const random = seededRandom(options.seed)
  const pick = (n: number): number => Math.floor(random() * n)
  mkdirSync(options.out, { recursive: true })
  const paths = Array.from({ length: options.files }, (_, i) => join(options.out, `page_views_${i + 1}.csv`))
  const writers = paths.map(path => new CsvWriter(path))

  // Each visitor favours one to four sites, popular sites more often.
  const favouriteSites = Array.from({ length: options.visitors }, () =>
    Array.from({ length: 1 + pick(4) }, () => Math.floor(options.sites * random() ** 2)))

  const spanSeconds = options.days * 86_400
  const sessionsExpected = options.rows / MEAN_VIEWS_PER_SESSION
  const meanSecondsBetweenSessions = spanSeconds / sessionsExpected
  const heap = new SessionHeap()
  let nextSessionAt = options.start

  for (let written = 0; written < options.rows;) {
    if (heap.size === 0 || nextSessionAt <= heap.time[0]) {
      const visitor = pick(options.visitors)
      const sites = favouriteSites[visitor]
      const views = 1 + Math.floor(-Math.log(1 - random()) * (MEAN_VIEWS_PER_SESSION - 1))
      heap.push(Math.floor(nextSessionAt), visitor, sites[pick(sites.length)], views)
      nextSessionAt += -Math.log(1 - random()) * meanSecondsBetweenSessions
      continue
    }
    const time = heap.time[0]
    const site = `www.s_${heap.site[0] + 1}.com`
    const line = `visitor_${heap.visitor[0] + 1},${site},${site}/page_${1 + pick(PAGES_PER_SITE)},${time}\n`
    const writer = writers[pick(writers.length)]
    writer.write(line)
    written++
    if (random() < 0.002 && written < options.rows) {
      writer.write(line)
      written++
    }
    heap.advanceTop(time + nextGap(random))
  }

  for (const writer of writers) writer.close()
  return paths
}
