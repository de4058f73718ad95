// Landing page: waits for the data, then shows the sites table a page at a time (paged, sorted and filtered
// on the server, so that it stays quick with any number of sites), warms the shown sites' cache entries,
// shows one site's charts, and answers the three questions, all in the chosen date range. Ids come from
// users' files: they are set as text only.

const PAGE_SIZE = 25
const WARMUP_CONCURRENCY = 4
const HEALTH_POLL_MS = 500
const FILTER_DELAY_MS = 200
const SECONDS_PER_DAY = 86400

const view = { sort: 'page_views', order: 'desc', q: '', offset: 0 }
/** The date range every figure is for, in epoch seconds as query values; empty means open. */
const range = { from: '', to: '' }
let health
let selectedSite

let total = 0
/** Only the latest request's answer is shown: a slower, older one must not overwrite it. */
let latestRequest = 0
let filterTimer

const byId = id => document.getElementById(id)
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const formatCount = n => n.toLocaleString('en-US')

/** The range's parameters, only those set. */
function rangeParams () {
  return Object.fromEntries(Object.entries(range).filter(([, value]) => value !== ''))
}

/** A UTC day as YYYY-MM-DD, or the epoch seconds where JavaScript's dates do not reach (past the year 275760). */
function formatDay (seconds) {
  const date = new Date(seconds * 1000)
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toISOString().slice(0, 10)
}

async function getJson (path, params) {
  const response = await fetch(`${path}?${new URLSearchParams(params)}`, { headers: { accept: 'application/json' } })
  const answer = await response.json()
  if (!response.ok) throw new Error(answer.message)
  return answer
}

function formatBytes (bytes) {
  return bytes < 1e6 ? `${Math.round(bytes / 1e3)} kB` : `${(bytes / 1e6).toFixed(1)} MB`
}

async function waitUntilLoaded () {
  for (;;) {
    const response = await fetch('/health', { headers: { accept: 'application/json' } })
    const health = await response.json()
    if (response.ok) return health
    if (health.status !== 'loading') throw new Error(health.message ?? `health answered ${response.status}`)
    const done = health.bytes_total > 0 ? health.bytes_done / health.bytes_total : 0
    byId('load-status').textContent = `Loading data: ${Math.floor(done * 100)}% ` +
      `(${formatBytes(health.bytes_done)} of ${formatBytes(health.bytes_total)} in ${health.files_total} files)`
    byId('load-progress').value = done
    await sleep(HEALTH_POLL_MS)
  }
}

function showSummary (health) {
  byId('load-status').textContent = `Data loaded in ${formatCount(health.load_ms)} ms`
  byId('load-progress').value = 1
  const skipped = health.skipped_rows > 0 ? `, ${formatCount(health.skipped_rows)} bad rows skipped` : ''
  byId('dataset-summary').textContent = `${formatCount(health.rows)} page views from ${health.files_total} files` +
    `${skipped}: ${formatCount(health.sites)} sites, ${formatCount(health.visitors)} visitors; ` +
    `session timeout ${health.session_timeout_seconds} s.`
}

function showWarmup (ready, shown) {
  byId('warmup-status').textContent = `${ready} / ${shown} sites ready`
  const bar = byId('warmup-progress')
  bar.hidden = false
  bar.max = Math.max(shown, 1)
  bar.value = ready
}

/** Computes the shown sites' session tables ahead of the questions about them, a few requests at a time. */
async function warmUp (sites, request) {
  let next = 0
  let ready = 0
  showWarmup(0, sites.length)
  const worker = async () => {
    while (next < sites.length) {
      const site = sites[next++].site_url
      await fetch(`/site_stats?${new URLSearchParams({ site_url: site, ...rangeParams() })}`, { headers: { accept: 'application/json' } })
      if (request === latestRequest) showWarmup(++ready, sites.length)
    }
  }
  await Promise.all(Array.from({ length: Math.min(WARMUP_CONCURRENCY, sites.length) }, worker))
}

function cell (text, className) {
  const td = document.createElement('td')
  td.textContent = text
  if (className) td.className = className
  return td
}

function siteCell (site) {
  const td = document.createElement('td')
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'site-link'
  button.title = `${site}: show this site, and use it in the questions above`
  button.textContent = site
  button.addEventListener('click', () => {
    for (const input of document.querySelectorAll('input[name="site_url"]')) input.value = site
    selectedSite = site
    showSiteOrFailure(site)
    byId('site-panel').scrollIntoView({ behavior: 'smooth' })
  })
  td.append(button)
  return td
}

function renderTable (sites) {
  const rows = sites.map(site => {
    const tr = document.createElement('tr')
    tr.append(
      siteCell(site.site_url),
      cell(formatCount(site.page_views), 'number'),
      cell(formatCount(site.visitors), 'number'),
      cell(formatCount(site.num_sessions), 'number'),
      cell(site.median_session_length.toFixed(1), 'number'),
      cell(site.views_per_session.toFixed(2), 'number'),
      cell(`${(site.bounce_rate * 100).toFixed(1)}%`, 'number')
    )
    return tr
  })
  byId('sites-table').tBodies[0].replaceChildren(...rows)
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE))
  const page = Math.floor(view.offset / PAGE_SIZE)
  byId('page-info').textContent = `Page ${page + 1} of ${formatCount(pages)} (${formatCount(total)} sites)`
  byId('page-previous').disabled = page === 0
  byId('page-next').disabled = page >= pages - 1
  for (const header of document.querySelectorAll('#sites-table th[data-sort]')) {
    const sorted = header.dataset.sort === view.sort
    header.setAttribute('aria-sort', sorted ? (view.order === 'asc' ? 'ascending' : 'descending') : 'none')
  }
  byId('site-options').replaceChildren(...sites.map(site => {
    const option = document.createElement('option')
    option.value = site.site_url
    return option
  }))
}

/** Shows the page of sites the view asks for, then warms them. */
async function showSites () {
  const request = ++latestRequest
  const page = await getJson('/sites', { ...view, limit: PAGE_SIZE, ...rangeParams() })
  if (request !== latestRequest) return []
  total = page.total
  renderTable(page.sites)
  await warmUp(page.sites, request)
  return page.sites
}

const SVG = 'http://www.w3.org/2000/svg'

/** A bucket's name, as analytics tools write them: "0 s", "1–10 s", "11–30 s", "1–3 min", "> 1 h". */
function bucketLabel ({ from, to }) {
  if (to === 0) return '0 s'
  if (to === null) return from % 3600 === 0 ? `> ${from / 3600} h` : `> ${from / 60} min`
  // Lengths are whole seconds: (10, 30] is 11–30 s.
  return to <= 60 ? `${from + 1}–${to} s` : `${from / 60}–${to / 60} min`
}

/** A bar chart of the buckets, drawn as SVG (no library, no CDN); each bar's title says its number. */
function drawHistogram (buckets, total) {
  const width = 720
  const height = 240
  const labelHeight = 24
  const slot = width / buckets.length
  const most = Math.max(1, ...buckets.map(bucket => bucket.sessions))
  const chart = byId('histogram-chart')
  chart.replaceChildren(...buckets.flatMap((bucket, index) => {
    const barHeight = Math.round((bucket.sessions / most) * (height - labelHeight - 20))
    const bar = document.createElementNS(SVG, 'rect')
    bar.setAttribute('class', 'bar')
    bar.setAttribute('x', String(index * slot + slot * 0.15))
    bar.setAttribute('width', String(slot * 0.7))
    bar.setAttribute('y', String(height - labelHeight - barHeight))
    bar.setAttribute('height', String(barHeight))
    const title = document.createElementNS(SVG, 'title')
    title.textContent = `${bucketLabel(bucket)}: ${formatCount(bucket.sessions)} sessions`
    bar.append(title)
    const label = document.createElementNS(SVG, 'text')
    label.setAttribute('x', String(index * slot + slot / 2))
    label.setAttribute('y', String(height - 6))
    label.textContent = bucketLabel(bucket)
    return [bar, label]
  }))
  byId('histogram-table').tBodies[0].replaceChildren(...buckets.map(bucket => {
    const tr = document.createElement('tr')
    tr.append(cell(bucketLabel(bucket)), cell(formatCount(bucket.sessions), 'number'),
      cell(`${(100 * bucket.sessions / Math.max(total, 1)).toFixed(1)}%`, 'number'))
    return tr
  }))
}

/** A bar chart of sessions per day (or per N days), drawn as SVG; each bar's title says its numbers. */
function drawTimeline ({ buckets, bucket_days: bucketDays }) {
  const width = 720
  const height = 200
  const labelHeight = 22
  const per = bucketDays === 1 ? 'day' : `${bucketDays} days`
  byId('timeline-heading').textContent = `Sessions per ${per}`
  const slot = width / Math.max(buckets.length, 1)
  const most = Math.max(1, ...buckets.map(bucket => bucket.sessions))
  const bars = buckets.map((bucket, index) => {
    const barHeight = Math.round((bucket.sessions / most) * (height - labelHeight - 10))
    const bar = document.createElementNS(SVG, 'rect')
    bar.setAttribute('class', 'bar')
    bar.setAttribute('x', String(index * slot + slot * 0.1))
    bar.setAttribute('width', String(Math.max(slot * 0.8, 0.5)))
    bar.setAttribute('y', String(height - labelHeight - barHeight))
    bar.setAttribute('height', String(barHeight))
    const title = document.createElementNS(SVG, 'title')
    title.textContent = `${bucket.date}: ${formatCount(bucket.sessions)} sessions, ${formatCount(bucket.page_views)} page views`
    bar.append(title)
    return bar
  })
  // The first and the last day name the axis; the titles and the table name every bar.
  const labels = buckets.length === 0 ? [] : [[buckets[0], 'start'], [buckets.at(-1), 'end']].map(([bucket, anchor]) => {
    const label = document.createElementNS(SVG, 'text')
    label.setAttribute('x', anchor === 'start' ? '0' : String(width))
    label.setAttribute('y', String(height - 4))
    label.setAttribute('text-anchor', anchor)
    label.textContent = bucket.date
    return label
  })
  byId('timeline-chart').replaceChildren(...bars, ...(buckets.length > 1 ? labels : labels.slice(0, 1)))
  byId('timeline-table').tBodies[0].replaceChildren(...buckets.map(bucket => {
    const tr = document.createElement('tr')
    tr.append(cell(bucket.date), cell(formatCount(bucket.sessions), 'number'), cell(formatCount(bucket.page_views), 'number'))
    return tr
  }))
}

/**
 * A list of pages, most first: each row's bar is as long as its share of the first row's count (set through
 * the element's style object, which the page's content security policy allows, unlike style attributes).
 */
function drawPageList (tableId, rows, count) {
  const most = Math.max(1, ...rows.map(count))
  byId(tableId).tBodies[0].replaceChildren(...rows.map(row => {
    const tr = document.createElement('tr')
    const page = cell(row.page_view_url, 'page')
    page.title = row.page_view_url
    const bar = document.createElement('span')
    bar.className = 'share-bar'
    bar.style.width = `${(100 * count(row)) / most}%`
    page.prepend(bar)
    tr.append(page, cell(formatCount(count(row)), 'number'))
    return tr
  }))
}

function describeStats (stats) {
  if (stats.num_sessions === 0) return 'No session began in this date range.'
  return `${formatCount(stats.num_sessions)} sessions by ${formatCount(stats.visitors)} visitors; ` +
    `median ${stats.median_session_length.toFixed(1)} s, mean ${stats.mean_session_length.toFixed(1)} s, ` +
    `bounce rate ${(stats.bounce_rate * 100).toFixed(1)}%.`
}

/** Shows one site's figures, the distribution of its session lengths and its sessions per day. */
async function showSite (site) {
  const params = { site_url: site, ...rangeParams() }
  const [stats, histogram, timeline, pages] = await Promise.all(['/site_stats', '/site_histogram', '/site_timeline', '/site_pages']
    .map(path => getJson(path, params)))
  byId('site-name').textContent = site
  byId('site-summary').textContent = describeStats(stats)
  drawHistogram(histogram.buckets, histogram.num_sessions)
  drawTimeline(timeline)
  drawPageList('top-pages-table', pages.top_pages, row => row.page_views)
  drawPageList('entry-pages-table', pages.entry_pages, row => row.sessions)
  byId('site-panel').hidden = false
}

function showSiteOrFailure (site) {
  showSite(site).catch(error => { byId('site-summary').textContent = `Cannot show ${site}: ${error.message}` })
}

function showSitesOrFailure () {
  showSites().catch(error => { byId('page-info').textContent = `Cannot list the sites: ${error.message}` })
}

function addExampleLinks (firstSite = 'www.s_1.com') {
  const links = [
    `/num_sessions?site_url=${encodeURIComponent(firstSite)}`,
    `/median_session_length?site_url=${encodeURIComponent(firstSite)}`,
    '/num_unique_visited_sites?visitor_id=visitor_1',
    `/site_stats?site_url=${encodeURIComponent(firstSite)}`,
    `/site_histogram?site_url=${encodeURIComponent(firstSite)}`,
    `/site_timeline?site_url=${encodeURIComponent(firstSite)}`,
    `/site_pages?site_url=${encodeURIComponent(firstSite)}&limit=5`,
    `/site_stats?site_url=${encodeURIComponent(firstSite)}&from=${formatDay(health.last_timestamp)}`,
    '/sites?sort=num_sessions&order=desc&limit=10',
    '/health'
  ]
  byId('example-links').replaceChildren(...links.map(href => {
    const item = document.createElement('li')
    const link = document.createElement('a')
    link.href = href
    const code = document.createElement('code')
    code.textContent = decodeURIComponent(href)
    link.append(code)
    item.append(link)
    return item
  }))
}

function wireForms () {
  for (const form of document.querySelectorAll('#queries form')) {
    form.addEventListener('submit', async event => {
      event.preventDefault()
      const param = form.dataset.param
      // Site questions are asked in the chosen range; a visitor's sites are in all of the data.
      const params = { [param]: form.elements[param].value, ...(param === 'site_url' ? rangeParams() : {}) }
      const output = form.querySelector('output')
      output.textContent = '…'
      try {
        const response = await fetch(`${form.dataset.path}?${new URLSearchParams(params)}`,
          { headers: { accept: 'text/plain' } })
        output.textContent = await response.text()
        output.classList.toggle('error', !response.ok)
      } catch (error) {
        output.textContent = `Request failed: ${error.message}`
        output.classList.add('error')
      }
    })
  }
}

function wireTableControls () {
  byId('site-filter').addEventListener('input', event => {
    clearTimeout(filterTimer)
    filterTimer = setTimeout(() => {
      view.q = event.target.value.trim()
      view.offset = 0
      showSitesOrFailure()
    }, FILTER_DELAY_MS)
  })
  byId('page-previous').addEventListener('click', () => { view.offset = Math.max(0, view.offset - PAGE_SIZE); showSitesOrFailure() })
  byId('page-next').addEventListener('click', () => { view.offset += PAGE_SIZE; showSitesOrFailure() })
  for (const header of document.querySelectorAll('#sites-table th[data-sort]')) {
    header.querySelector('button').addEventListener('click', () => {
      const sort = header.dataset.sort
      // A figure's first click shows the largest first; a site's, A to Z; a second click turns the order round.
      view.order = sort === view.sort ? (view.order === 'asc' ? 'desc' : 'asc') : (sort === 'site_url' ? 'asc' : 'desc')
      view.sort = sort
      view.offset = 0
      showSitesOrFailure()
    })
  }
}

function describeRange () {
  if (range.from === '' && range.to === '') return 'All sessions.'
  const from = range.from === '' ? 'the start' : formatDay(Number(range.from))
  const last = range.to === '' ? 'the end' : formatDay(Number(range.to) - SECONDS_PER_DAY)
  return `Sessions that began from ${from} to ${last} (UTC, both days included).`
}

/** Every figure on the page again, in the range now chosen. */
async function applyRange () {
  view.offset = 0
  try {
    const sites = await showSites()
    byId('range-status').textContent = describeRange()
    selectedSite ??= sites[0]?.site_url
    if (selectedSite !== undefined) await showSite(selectedSite)
  } catch (error) {
    byId('range-status').textContent = `Cannot use this range: ${error.message}`
  }
}

function wireRange () {
  const preset = byId('range-preset')
  // No page view, no days to choose from.
  preset.disabled = health.last_timestamp === null
  preset.addEventListener('change', () => {
    const custom = preset.value === 'custom'
    byId('custom-range').hidden = !custom
    if (custom) {
      byId('range-from').value ||= formatDay(health.first_timestamp)
      byId('range-to').value ||= formatDay(health.last_timestamp)
      return
    }
    if (preset.value === 'all') {
      range.from = ''
      range.to = ''
    } else {
      // The last N days of the data, up to and including the day of its last page view.
      const lastDay = Math.floor(health.last_timestamp / SECONDS_PER_DAY)
      range.from = String((lastDay - Number(preset.value) + 1) * SECONDS_PER_DAY)
      range.to = String((lastDay + 1) * SECONDS_PER_DAY)
    }
    applyRange()
  })
  byId('range-form').addEventListener('submit', event => {
    event.preventDefault()
    // A date input's day begins at its UTC midnight; the "to" day is included: the range ends where the next begins.
    const from = byId('range-from').value
    const to = byId('range-to').value
    range.from = from === '' ? '' : String(Date.parse(from) / 1000)
    range.to = to === '' ? '' : String(Date.parse(to) / 1000 + SECONDS_PER_DAY)
    applyRange()
  })
}

async function main () {
  wireForms()
  wireTableControls()
  try {
    health = await waitUntilLoaded()
    showSummary(health)
    wireRange()
    byId('range-status').textContent = describeRange()
    const sites = await showSites()
    addExampleLinks(sites[0]?.site_url)
    // The busiest site first: the table opens busiest first.
    selectedSite = sites[0]?.site_url
    if (selectedSite !== undefined) await showSite(selectedSite)
  } catch (error) {
    byId('load-status').textContent = `Cannot load the data: ${error.message}`
  }
}

main()
