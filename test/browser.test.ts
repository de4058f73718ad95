// The landing page in a real headless Chromium: warm-up, the sites table, the three forms, and ids as text.
import t, { type Test } from 'tap'
import { existsSync, appendFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { DEFAULT_GENERATOR_OPTIONS, generatePageViews } from '../scripts/lib/page-view-generator.js'
import { naiveAnswers } from './naive-sessionizer.js'
import { build, buildLoaded } from './helper.js'
import { CLICKHOUSE_INSTALLED, startCluster, type Cluster } from './clickhouse-cluster.js'
import type { SiteRow } from '../src/domain/queries.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const HOSTILE_SITE = '<img src=x onerror="window.__injected=1">'

if (!existsSync(CHROMIUM)) {
  const why = `needs Chromium at ${CHROMIUM} (npm test installs it as root: scripts/ensure-chromium.sh)`
  if (process.env.CI) t.fail(`browser test: ${why}; CI must not skip it`)
  else t.plan(0, `browser test: ${why}`)
} else {
  /** Debian's Chromium, headless, with nothing reaching past this machine; closed when the test ends. */
  const launch = async (t: Test): Promise<Browser> => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync']
    })
    t.teardown(() => browser.close())
    return browser
  }

  // The page on either backend: on ClickHouse, a cluster of two shards. CI has ClickHouse: the backend tests fail there without it.
  const cluster: Cluster | undefined = CLICKHOUSE_INSTALLED ? startCluster(t, 2, 30) : undefined
  const backends = cluster ? ['memory', 'clickhouse'] as const : ['memory'] as const
  const serve = async (t: Test, backend: typeof backends[number], dataDir: string) => backend === 'memory'
    ? buildLoaded(t, { dataDir })
    : buildLoaded(t, { dataDir, backend, clickhouseUrl: cluster!.url, clickhouseDatabase: await cluster!.database(true), warmCache: true })

  for (const backend of backends) {
    t.test(`the landing page warms every site and answers the forms (${backend})`, async t => {
      const dataDir = t.testdir({})
      const [file] = generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 6_000, sites: 9, visitors: 400, files: 2, out: dataDir, seed: 5 })
      const quoted = `"${HOSTILE_SITE.replaceAll('"', '""')}"`
      appendFileSync(file, `visitor_1,${quoted},${quoted},1347900000\nvisitor_1,${quoted},x,1347900100\n`)
      const naive = naiveAnswers(dataDir)
      const server = await serve(t, backend, dataDir)
      const address = await server.listen({ host: '127.0.0.1', port: 0 })

      const page = await (await launch(t)).newPage()
      await page.goto(address)

      await page.locator('#warmup-status', { hasText: '10 / 10 sites ready' }).waitFor({ timeout: 30_000 })
      t.match(await page.locator('#dataset-summary').textContent(), /6,002 page views from 2 files/)

      const rows = await page.locator('#sites-table tbody tr').evaluateAll(trs =>
        trs.map(tr => Array.from(tr.querySelectorAll('td'), td => td.textContent ?? '')))
      t.equal(rows.length, 10)
      for (const [site, , , sessions, median] of rows) {
        t.equal(sessions.replaceAll(',', ''), String(naive.sessionsBySite.get(site)), `sessions of ${site}`)
        t.equal(median, naive.medianBySite.get(site)!.toFixed(1), `median of ${site}`)
      }
      t.ok(rows.some(([site]) => site === HOSTILE_SITE), 'the hostile site name is shown as text')
      t.equal(await page.locator('#sites-table img').count(), 0, 'no element was made from a site name')
      t.equal(await page.evaluate(() => (window as unknown as { __injected?: number }).__injected), undefined)

      // The busiest site's panel: its chart's and its table's numbers are the API's.
      await page.locator('#site-panel:not([hidden])').waitFor()
      const busiest = (server.inject('/sites?sort=page_views&order=desc&limit=1'))
      const busiestSite = ((await busiest).json() as { sites: SiteRow[] }).sites[0].site_url
      t.equal(await page.textContent('#site-name'), busiestSite)
      const histogram = (await server.inject(`/site_histogram?site_url=${encodeURIComponent(busiestSite)}`)).json() as { buckets: { sessions: number }[] }
      const counts = histogram.buckets.map(bucket => bucket.sessions.toLocaleString('en-US'))
      t.same(await page.locator('#histogram-table tbody td:nth-child(2)').allTextContents(), counts, 'the table under the chart')
      t.same((await page.locator('#histogram-chart rect title').allTextContents()).map(title => title.replace(/^.*: ([\d,]+) sessions$/, '$1')), counts,
        'each bar\'s title')
      t.same(await page.locator('#histogram-table tbody td:first-child').allTextContents(),
        ['0 s', '1–10 s', '11–30 s', '31–60 s', '1–3 min', '3–10 min', '10–30 min', '30–60 min', '> 1 h'])
      await page.click(`#sites-table button.site-link >> text="${HOSTILE_SITE}"`)
      await page.locator('#site-name', { hasText: HOSTILE_SITE }).waitFor()
      t.equal(await page.locator('#histogram-table tbody tr:last-child td:nth-child(2)').textContent(), '0')
      await page.locator('#entry-pages-table td.page', { hasText: HOSTILE_SITE }).waitFor()
      t.equal(await page.locator('#site-panel img').count(), 0, 'the site name, and a page named like it, are text in the panel too')

      await page.fill('#form-num-sessions input', 'www.s_1.com')
      await page.click('#form-num-sessions button')
      await page.locator('#answer-num-sessions', { hasText: 'Num sessions for site www.s_1.com = ' }).waitFor()
      t.equal(await page.textContent('#answer-num-sessions'), `Num sessions for site www.s_1.com = ${naive.sessionsBySite.get('www.s_1.com')}`)

      await page.fill('#form-median input', HOSTILE_SITE)
      await page.click('#form-median button')
      await page.locator('#answer-median', { hasText: 'Median session length' }).waitFor()
      t.equal(await page.textContent('#answer-median'), `Median session length for site ${HOSTILE_SITE} = 100.0`)

      await page.fill('#form-unique-sites input', 'visitor_1')
      await page.click('#form-unique-sites button')
      await page.locator('#answer-unique-sites', { hasText: 'Num of unique sites' }).waitFor()
      t.equal(await page.textContent('#answer-unique-sites'), `Num of unique sites for visitor_1 = ${naive.sitesByVisitor.get('visitor_1')}`)

      await page.fill('#form-unique-sites input', 'nobody')
      await page.click('#form-unique-sites button')
      await page.locator('#answer-unique-sites.error').waitFor()
      t.equal(await page.textContent('#answer-unique-sites'), 'Unknown visitor_id: nobody')

      await page.fill('#site-filter', 's_1')
      await page.locator('#page-info', { hasText: '(1 sites)' }).waitFor()
      t.same(await page.locator('#sites-table tbody tr td:first-child').allTextContents(), ['www.s_1.com'])
      t.ok(await page.locator('#example-links a[href="/health"]').count(), 'example links are listed')
      await page.screenshot({ path: join(dataDir, 'landing.png'), fullPage: true })
    })

    t.test(`a date range changes every figure, table and chart to the API's for that range (${backend})`, async t => {
      const dataDir = t.testdir({})
      generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 8_000, sites: 6, visitors: 500, files: 2, out: dataDir, seed: 12 })
      const server = await serve(t, backend, dataDir)
      const address = await server.listen({ host: '127.0.0.1', port: 0 })
      const page = await (await launch(t)).newPage()
      const api = async (path: string, query: Record<string, string>) => (await server.inject({ url: path, query, headers: { accept: 'application/json' } })).json()
      const tableRows = () => page.locator('#sites-table tbody tr').evaluateAll(trs =>
        trs.map(tr => Array.from(tr.querySelectorAll('td'), td => (td.textContent ?? '').replaceAll(',', ''))))
      const expectedRows = async (query: Record<string, string>) => ((await api('/sites', { sort: 'page_views', order: 'desc', limit: '25', ...query })).sites as SiteRow[])
        .map(site => [site.site_url, String(site.page_views), String(site.visitors), String(site.num_sessions),
          site.median_session_length.toFixed(1), site.views_per_session.toFixed(2), `${(site.bounce_rate * 100).toFixed(1)}%`])
      const timelineRows = () => page.locator('#timeline-table tbody tr').evaluateAll(trs =>
        trs.map(tr => Array.from(tr.querySelectorAll('td'), td => (td.textContent ?? '').replaceAll(',', ''))))
      const expectedTimeline = async (query: Record<string, string>) => ((await api('/site_timeline', query)).buckets as { date: string, sessions: number, page_views: number }[])
        .map(bucket => [bucket.date, String(bucket.sessions), String(bucket.page_views)])

      await page.goto(address)
      await page.locator('#site-panel:not([hidden])').waitFor({ timeout: 30_000 })
      const site = await page.textContent('#site-name') ?? ''
      t.equal(await page.textContent('#range-status'), 'All sessions.')
      t.same(await timelineRows(), await expectedTimeline({ site_url: site }), 'sessions per day over the whole data')
      t.equal(await page.locator('#timeline-chart rect').count(), (await timelineRows()).length, 'a bar per day')
      t.same((await page.locator('#timeline-chart rect title').allTextContents()).map(title => title.replace(/^([\d-]+): ([\d,]+) sessions, ([\d,]+) page views$/, '$1 $2 $3').replaceAll(',', '')),
        (await timelineRows()).map(row => row.join(' ')), 'each bar\'s title')

      // The second and third days of the data, both included.
      const first = (await api('/health', {})).first_timestamp as number
      const day = (offset: number) => new Date((Math.floor(first / 86_400) + offset) * 86_400_000).toISOString().slice(0, 10)
      const query = { from: day(1), to: day(3) }
      await page.selectOption('#range-preset', 'custom')
      await page.fill('#range-from', day(1))
      await page.fill('#range-to', day(2))
      await page.click('#range-form button[type="submit"]')
      await page.locator('#range-status', { hasText: `Sessions that began from ${day(1)} to ${day(2)} (UTC, both days included).` }).waitFor()
      await page.waitForFunction(() => document.querySelectorAll('#timeline-table tbody tr').length === 2)
      t.same(await tableRows(), await expectedRows(query), 'the sites table in the range')
      t.same(await timelineRows(), await expectedTimeline({ site_url: site, ...query }), 'two days of sessions')
      const stats = await api('/site_stats', { site_url: site, ...query })
      t.match(await page.textContent('#site-summary'), `${stats.num_sessions.toLocaleString('en-US')} sessions by ${stats.visitors.toLocaleString('en-US')} visitors`)
      const histogram = (await api('/site_histogram', { site_url: site, ...query })).buckets.map((bucket: { sessions: number }) => bucket.sessions.toLocaleString('en-US'))
      t.same(await page.locator('#histogram-table tbody td:nth-child(2)').allTextContents(), histogram, 'the histogram in the range')
      const pages = await api('/site_pages', { site_url: site, ...query })
      const listed = (tableId: string) => page.locator(`#${tableId} tbody tr`).evaluateAll(trs =>
        trs.map(tr => Array.from(tr.querySelectorAll('td'), td => (td.textContent ?? '').replaceAll(',', ''))))
      t.same(await listed('top-pages-table'), pages.top_pages.map((row: { page_view_url: string, page_views: number }) => [row.page_view_url, String(row.page_views)]),
        'the top pages in the range')
      t.same(await listed('entry-pages-table'), pages.entry_pages.map((row: { page_view_url: string, sessions: number }) => [row.page_view_url, String(row.sessions)]),
        'the entry pages in the range')
      t.equal(pages.top_pages.length, 10, 'ten of each')
      await page.fill('#form-num-sessions input', site)
      await page.click('#form-num-sessions button')
      await page.locator('#answer-num-sessions', { hasText: 'Num sessions' }).waitFor()
      t.equal(await page.textContent('#answer-num-sessions'), `Num sessions for site ${site} = ${stats.num_sessions}`, 'the questions are asked in the range')

      await page.selectOption('#range-preset', '7')
      const last = (await api('/health', {})).last_timestamp as number
      const lastWeek = { from: String((Math.floor(last / 86_400) - 6) * 86_400), to: String((Math.floor(last / 86_400) + 1) * 86_400) }
      await page.locator('#range-status', { hasText: /^Sessions that began from .* to .*$/ }).waitFor()
      await page.locator('#warmup-status', { hasText: /(\d+) \/ \1 sites ready/ }).waitFor()
      // The status changes before the table's new rows arrive, and a ranged sites table may take a moment.
      const lastWeekRows = await expectedRows(lastWeek)
      for (let tries = 0; tries < 100 && JSON.stringify(await tableRows()) !== JSON.stringify(lastWeekRows); tries++) await page.waitForTimeout(100)
      t.same(await tableRows(), lastWeekRows, 'the last 7 days of the data')

      await page.selectOption('#range-preset', 'custom')
      await page.fill('#range-from', day(3))
      await page.fill('#range-to', day(1))
      await page.click('#range-form button[type="submit"]')
      await page.locator('#range-status', { hasText: 'Cannot use this range: to must not be before from' }).waitFor()
      t.pass('a reversed range is refused with the API\'s message')
    })
  }

  t.test('/docs: the interactive API documentation renders every route, with nothing fetched from elsewhere', async t => {
    const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': 'visitor_1,www.s_1.com,u,1\n' }) })
    const address = await server.listen({ host: '127.0.0.1', port: 0 })
    const page = await (await launch(t)).newPage()
    const problems: string[] = []
    page.on('console', message => { if (message.type() === 'error') problems.push(message.text()) })
    page.on('pageerror', error => problems.push(error.message))
    page.on('request', request => { if (!request.url().startsWith(address) && !request.url().startsWith('data:')) problems.push(`request to ${request.url()}`) })
    await page.goto(`${address}/docs`)
    await page.locator('.opblock-summary-path').nth(9).waitFor({ timeout: 30_000 })
    const paths = (await page.locator('.opblock-summary-path').allTextContents()).map(path => path.replace(/\u200b/g, ''))
    t.same(paths.sort(), ['/health', '/median_session_length', '/metrics', '/num_sessions', '/num_unique_visited_sites', '/site_histogram',
      '/site_pages', '/site_stats', '/site_timeline', '/sites'])
    // Open one operation: its parameters are listed with their descriptions.
    await page.locator('.opblock-summary', { hasText: '/num_sessions' }).click()
    await page.locator('.parameters .parameter__name', { hasText: 'site_url' }).waitFor()
    t.same(await page.locator('.opblock.is-open .parameters .parameter__name').allTextContents().then(names => names.map(name => name.replace(/\W.*$/s, ''))),
      ['site_url', 'from', 'to'])
    t.same(problems, [], 'no error, no blocked script, no request elsewhere')
  })

  t.test('thousands of sites: the table is paged, sorted and filtered by the server, with few requests', async t => {
    const dataDir = t.testdir({})
    generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 20_000, sites: 1_500, visitors: 3_000, files: 1, out: dataDir, seed: 8 })
    const server = await buildLoaded(t, { dataDir })
    const address = await server.listen({ host: '127.0.0.1', port: 0 })
    const page = await (await launch(t)).newPage()
    let requests = 0
    page.on('request', () => { requests++ })
    const tableRows = () => page.locator('#sites-table tbody tr').evaluateAll(trs =>
      trs.map(tr => Array.from(tr.querySelectorAll('td'), td => (td.textContent ?? '').replaceAll(',', ''))))
    const total = async (query: string) => ((await server.inject(`/sites?${query}`)).json() as { total: number }).total
    const sites = await total('')
    const pages = Math.ceil(sites / 25)
    t.ok(sites > 1000, `${sites} sites`)
    const api = async (query: string) => {
      const { sites } = (await server.inject(`/sites?limit=25&${query}`)).json() as { sites: SiteRow[] }
      return sites.map(site => [site.site_url, String(site.page_views), String(site.visitors), String(site.num_sessions),
        site.median_session_length.toFixed(1), site.views_per_session.toFixed(2), `${(site.bounce_rate * 100).toFixed(1)}%`])
    }

    await page.goto(address)
    await page.locator('#warmup-status', { hasText: '25 / 25 sites ready' }).waitFor({ timeout: 30_000 })
    t.equal(await page.textContent('#page-info'), `Page 1 of ${pages} (${sites.toLocaleString('en-US')} sites)`)
    t.same(await tableRows(), await api('sort=page_views&order=desc'), 'busiest first, as the API lists them')
    t.ok(requests < 100, `${requests} requests for the first page`)

    await page.click('#page-next')
    await page.locator('#page-info', { hasText: `Page 2 of ${pages}` }).waitFor()
    t.same(await tableRows(), await api('sort=page_views&order=desc&offset=25'))

    await page.click('th[data-sort="num_sessions"] button')
    await page.locator('#page-info', { hasText: `Page 1 of ${pages}` }).waitFor()
    t.equal(await page.getAttribute('th[data-sort="num_sessions"]', 'aria-sort'), 'descending')
    t.same(await tableRows(), await api('sort=num_sessions&order=desc'))
    await page.click('th[data-sort="num_sessions"] button')
    await page.locator('th[data-sort="num_sessions"][aria-sort="ascending"]').waitFor()
    await page.locator('#warmup-status', { hasText: '25 / 25 sites ready' }).waitFor()
    t.same(await tableRows(), await api('sort=num_sessions&order=asc'))

    await page.fill('#site-filter', 'S_14')
    await page.locator('#page-info', { hasText: `(${await total('q=s_14')} sites)` }).waitFor()
    t.same(await tableRows(), await api('sort=num_sessions&order=asc&q=s_14'))
    await page.click('th[data-sort="site_url"] button')
    await page.locator('th[data-sort="site_url"][aria-sort="ascending"]').waitFor()
    await page.locator('#warmup-status', { hasText: '25 / 25 sites ready' }).waitFor()
    const byName = await tableRows()
    t.same(byName, await api('sort=site_url&order=asc&q=s_14'))
    t.equal(byName[0][0], 'www.s_14.com', 'natural order: s_14 before s_140')
  })

  t.test('on a phone (390 px) and on a desktop (1280 px) the page never scrolls sideways', async t => {
    const dataDir = t.testdir({})
    const [file] = generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 3_000, sites: 30, visitors: 300, files: 1, out: dataDir, seed: 3 })
    const longName = `www.${'very-long-subdomain-name.'.repeat(6)}example.com`
    appendFileSync(file, `visitor_1,${longName},/,1347900000\n`.repeat(50))
    const server = await buildLoaded(t, { dataDir })
    const address = await server.listen({ host: '127.0.0.1', port: 0 })
    const browser = await launch(t)
    for (const width of [390, 1280]) {
      const page = await browser.newPage({ viewport: { width, height: 844 } })
      await page.goto(address)
      await page.locator('#warmup-status', { hasText: '25 / 25 sites ready' }).waitFor({ timeout: 30_000 })
      await page.fill('#form-median input', longName)
      await page.click('#form-median button')
      await page.locator('#answer-median', { hasText: 'Median session length' }).waitFor()
      const site = page.locator('#sites-table button.site-link', { hasText: longName })
      t.equal(await site.getAttribute('title'), `${longName}: show this site, and use it in the questions above`, 'the full name on hover')
      await site.click()
      await page.locator('#site-name', { hasText: longName }).waitFor()
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      t.ok(overflow <= 0, `${width} px: ${overflow} px wider than the screen`)
      await page.screenshot({ path: join(dataDir, `landing-${width}.png`), fullPage: true })
      await page.close()
    }
  })

  t.test('while the data loads, the page shows its progress, then warms up', async t => {
    const dataDir = t.testdir({ 'a.csv': 'visitor_1,www.s_1.com,u,1\n'.repeat(1000) })
    const pipe = join(dataDir, 'b.csv')
    execFileSync('mkfifo', [pipe])
    const server = await build(t, { dataDir })
    const address = await server.listen({ host: '127.0.0.1', port: 0 })
    const page = await (await launch(t)).newPage()
    await page.goto(address)
    await page.locator('#load-status', { hasText: /^Loading data: 100% \(26 kB of 26 kB in 2 files\)$/ }).waitFor({ timeout: 30_000 })
    t.equal(await page.locator('#load-progress').evaluate(bar => (bar as HTMLProgressElement).value), 1)
    await writeFile(pipe, 'visitor_2,www.s_2.com,u,5\n')
    await page.locator('#warmup-status', { hasText: '2 / 2 sites ready' }).waitFor({ timeout: 30_000 })
    t.match(await page.textContent('#load-status'), /^Data loaded in [\d,]+ ms$/)
  })
}
