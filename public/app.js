// Landing page: waits for the data, warms every site's cache entry a few at a time, then shows a paged
// table of sites and answers the three questions. Ids come from users' files: they are set as text only.

const PAGE_SIZE = 25
const WARMUP_CONCURRENCY = 4
const HEALTH_POLL_MS = 500
const MAX_SITE_OPTIONS = 500

const sites = []
const statsBySite = new Map()
let filter = ''
let page = 0
let renderQueued = false

const byId = id => document.getElementById(id)
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const formatCount = n => n.toLocaleString('en-US')

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
  byId('dataset-summary').textContent = `${formatCount(health.rows)} page views from ${health.files.length} files` +
    `${skipped}: ${formatCount(health.sites)} sites, ${formatCount(health.visitors)} visitors; ` +
    `session timeout ${health.session_timeout_seconds} s.`
}

function showWarmup (ready, total) {
  byId('warmup-status').textContent = `${ready} / ${total} sites ready`
  const bar = byId('warmup-progress')
  bar.hidden = false
  bar.max = Math.max(total, 1)
  bar.value = ready
}

async function warmUp () {
  let next = 0
  let ready = 0
  showWarmup(0, sites.length)
  const worker = async () => {
    while (next < sites.length) {
      const site = sites[next++].site_url
      const response = await fetch(`/site_stats?site_url=${encodeURIComponent(site)}`,
        { headers: { accept: 'application/json' } })
      if (response.ok) statsBySite.set(site, await response.json())
      showWarmup(++ready, sites.length)
      queueRender()
    }
  }
  await Promise.all(Array.from({ length: Math.min(WARMUP_CONCURRENCY, sites.length) }, worker))
}

function queueRender () {
  if (renderQueued) return
  renderQueued = true
  requestAnimationFrame(() => {
    renderQueued = false
    renderTable()
  })
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
  button.title = 'Use this site in the questions above'
  button.textContent = site
  button.addEventListener('click', () => {
    for (const input of document.querySelectorAll('input[name="site_url"]')) input.value = site
    byId('queries').scrollIntoView({ behavior: 'smooth' })
  })
  td.append(button)
  return td
}

function renderTable () {
  const shown = filter === '' ? sites : sites.filter(site => site.site_url.toLowerCase().includes(filter))
  const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE))
  page = Math.min(page, pages - 1)
  const rows = shown.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).map(site => {
    const stats = statsBySite.get(site.site_url)
    const tr = document.createElement('tr')
    tr.append(
      siteCell(site.site_url),
      cell(formatCount(site.page_views), 'number'),
      cell(stats ? formatCount(stats.visitors) : '…', 'number'),
      cell(stats ? formatCount(stats.num_sessions) : '…', 'number'),
      cell(stats ? stats.median_session_length.toFixed(1) : '…', 'number'),
      cell(stats ? stats.views_per_session.toFixed(2) : '…', 'number'),
      cell(stats ? `${(stats.bounce_rate * 100).toFixed(1)}%` : '…', 'number')
    )
    return tr
  })
  byId('sites-table').tBodies[0].replaceChildren(...rows)
  byId('page-info').textContent = `Page ${page + 1} of ${pages} (${formatCount(shown.length)} sites)`
  byId('page-previous').disabled = page === 0
  byId('page-next').disabled = page >= pages - 1
}

function fillSiteOptions () {
  const options = sites.slice(0, MAX_SITE_OPTIONS).map(site => {
    const option = document.createElement('option')
    option.value = site.site_url
    return option
  })
  byId('site-options').replaceChildren(...options)
}

function addExampleLinks () {
  const firstSite = sites[0]?.site_url ?? 'www.s_1.com'
  const links = [
    `/num_sessions?site_url=${encodeURIComponent(firstSite)}`,
    `/median_session_length?site_url=${encodeURIComponent(firstSite)}`,
    '/num_unique_visited_sites?visitor_id=visitor_1',
    `/site_stats?site_url=${encodeURIComponent(firstSite)}`,
    '/sites',
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
      const value = form.elements[param].value
      const output = form.querySelector('output')
      output.textContent = '…'
      try {
        const response = await fetch(`${form.dataset.path}?${param}=${encodeURIComponent(value)}`,
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
    filter = event.target.value.trim().toLowerCase()
    page = 0
    renderTable()
  })
  byId('page-previous').addEventListener('click', () => { page--; renderTable() })
  byId('page-next').addEventListener('click', () => { page++; renderTable() })
}

async function main () {
  wireForms()
  wireTableControls()
  try {
    showSummary(await waitUntilLoaded())
    const response = await fetch('/sites', { headers: { accept: 'application/json' } })
    sites.push(...await response.json())
    fillSiteOptions()
    addExampleLinks()
    renderTable()
    await warmUp()
  } catch (error) {
    byId('load-status').textContent = `Cannot load the data: ${error.message}`
  }
}

main()
