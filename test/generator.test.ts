import t from 'tap'
import { readFileSync } from 'node:fs'
import { DEFAULT_GENERATOR_OPTIONS, generatePageViews, seededRandom } from '../scripts/lib/page-view-generator.js'
import { compiled } from './helper.js'

t.test('the same seed writes the same files; another seed does not', async t => {
  const options = { ...DEFAULT_GENERATOR_OPTIONS, rows: 5_000, files: 3 }
  const read = (paths: string[]) => paths.map(path => readFileSync(path, 'utf8'))
  const a = read(generatePageViews({ ...options, out: t.testdir({}) }))
  const b = read(generatePageViews({ ...options, out: t.testdir({}) }))
  const c = read(generatePageViews({ ...options, out: t.testdir({}), seed: 2 }))
  t.same(a, b)
  t.not(a.join(''), c.join(''))
})

t.test('exactly the rows asked for, each file sorted by time, files overlapping', async t => {
  const paths = generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 12_345, sites: 7, visitors: 500, files: 4, out: t.testdir({}) })
  let rows = 0
  const ranges: [number, number][] = []
  const sites = new Set<string>()
  for (const path of paths) {
    const times = readFileSync(path, 'utf8').trimEnd().split('\n').map(line => {
      const fields = line.split(',')
      t.equal(fields.length, 4)
      sites.add(fields[1])
      return Number(fields[3])
    })
    rows += times.length
    t.ok(times.every((time, i) => i === 0 || times[i - 1] <= time), `${path} is sorted`)
    ranges.push([times[0], times.at(-1)!])
  }
  t.equal(rows, 12_345)
  t.ok(sites.size <= 7)
  t.ok(ranges.every(([start]) => ranges.every(([, end]) => start < end)), 'every file overlaps every other')
})

t.test('the random source is deterministic and in [0, 1)', async t => {
  const a = seededRandom(42)
  const b = seededRandom(42)
  const draws = Array.from({ length: 1000 }, () => a())
  t.same(draws, Array.from({ length: 1000 }, () => b()))
  t.ok(draws.every(x => x >= 0 && x < 1))
})

t.test('the command line: every option, and a bad value named', async t => {
  const { spawnSync } = await import('node:child_process')
  const { join } = await import('node:path')
  const cli = (...args: string[]) => spawnSync(process.execPath, [compiled('scripts/generate-data.ts'), ...args],
    { encoding: 'utf8' })
  const out = t.testdir({})
  const ok = cli('--rows', '500', '--sites', '2', '--visitors', '10', '--files', '2', '--seed', '0', '--start', '0', '--days', '1', '--out', out)
  t.equal(ok.status, 0)
  t.match(ok.stdout, /^wrote 500 page views into 2 files in /)
  t.equal(readFileSync(join(out, 'page_views_1.csv'), 'utf8').split('\n').length +
    readFileSync(join(out, 'page_views_2.csv'), 'utf8').split('\n').length - 2, 500)
  for (const [args, message] of [
    [['--rows', '0'], /--rows must be a whole number above 0, got "0"/],
    [['--seed=-1'], /--seed must be a whole number, got "-1"/]
  ] as const) {
    const bad = cli(...args, '--out', out)
    t.equal(bad.status, 1)
    t.match(bad.stderr, message)
  }
})
