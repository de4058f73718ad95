// The README's curl examples, with the answers they show, asked of the bundled data: the README cannot drift.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../src/project-root.js'
import { buildLoaded } from './helper.js'

const EXAMPLE = /^curl (?:-H '([^:]+): ([^']+)' )?'localhost:5000([^']+)'\s+# (.+)$/gm

t.test('every curl example with an answer gives that answer on the bundled data', async t => {
  const examples = [...readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8').matchAll(EXAMPLE)]
  t.ok(examples.length >= 4, `${examples.length} examples`)
  const server = await buildLoaded(t, { dataDir: join(PROJECT_ROOT, 'data') })
  for (const [, header, value, url, answer] of examples) {
    const res = await server.inject({ url, headers: header ? { [header.toLowerCase()]: value } : {} })
    t.equal(res.body, answer, url)
  }
})
