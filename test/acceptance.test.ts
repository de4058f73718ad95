// The original assignment: every line of expected-results.txt, through the HTTP routes.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../src/project-root.js'
import { buildLoaded, get } from './helper.js'

const ASSIGNMENT = join(PROJECT_ROOT, '..', 'shared', 'assignment')
const EXPECTED = join(ASSIGNMENT, 'expected-results.txt')

if (!existsSync(EXPECTED)) {
  const why = `needs the assignment's input CSVs and expected-results.txt in ${ASSIGNMENT}`
  if (process.env.CI) t.fail(`acceptance: ${why}; CI must not skip it`)
  else t.plan(0, `acceptance: ${why}`)
} else {
  t.test('all 30 expected answers are exact', async t => {
    const server = await buildLoaded(t, { dataDir: ASSIGNMENT })
    const lines = readFileSync(EXPECTED, 'utf8').split('\n').filter(line => line.trim() !== '')
    t.equal(lines.length, 20, 'ten site lines and ten visitor lines')
    let checked = 0
    for (const line of lines) {
      const site = /^Num sessions for site (\S+) = (\d+) median session length = ([\d.]+)$/.exec(line)
      if (site) {
        const [, siteUrl, sessions, median] = site
        t.equal((await get(server, '/num_sessions', { site_url: siteUrl })).body,
          `Num sessions for site ${siteUrl} = ${sessions}`)
        t.equal((await get(server, '/median_session_length', { site_url: siteUrl })).body,
          `Median session length for site ${siteUrl} = ${median}`)
        checked += 2
        continue
      }
      const visitor = /^Num of unique sites for (\S+) = (\d+)$/.exec(line)
      t.ok(visitor, `a line of a known form: ${line}`)
      t.equal((await get(server, '/num_unique_visited_sites', { visitor_id: visitor![1] })).body, line)
      checked++
    }
    t.equal(checked, 30)
    t.equal((await get(server, '/median_session_length', { site_url: 'www.s_5.com' })).body,
      'Median session length for site www.s_5.com = 1375.0', 'the row pandas ate as a header is counted')
  })
}
