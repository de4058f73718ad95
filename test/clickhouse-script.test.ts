// `npm run clickhouse:up` / `clickhouse:down`: a local cluster of N shards, started once, stopped by its pids.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLICKHOUSE_INSTALLED, clickhouseScript, clickhouseScriptOrThrow } from '../scripts/lib/local-cluster.js'
import { NEEDS_CLICKHOUSE, requires } from './clickhouse-cluster.js'
import { compiled } from './helper.js'

async function query (port: number, sql: string): Promise<string> {
  // Once more on a network error: a kept-alive connection to a node that has since been restarted is dead.
  const post = () => fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: sql })
  const response = await post().catch(post)
  return (await response.text()).trim()
}

async function answers (port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/ping`).then(response => response.ok, () => false)
}

const pids = (home: string, shards: number) =>
  Array.from({ length: shards }, (_, shard) => readFileSync(join(home, `shard-${shard}`, 'pid'), 'utf8').trim())

if (requires(CLICKHOUSE_INSTALLED, 'ClickHouse script test', NEEDS_CLICKHOUSE)) {
  t.test('up starts N shards that form one cluster, again is a no-op, and down stops them by their pids', async t => {
    // Not a tap fixture: those are removed before teardowns run, pid files with them, and `down` needs those.
    const home = mkdtempSync(join(tmpdir(), 'sessionizer-clickhouse-'))
    // Ports far from the defaults, different in each run, so that a cluster left by a user is never touched; below
    // Linux's ephemeral ports (32768 and up), which the tests' own connections may hold at any moment.
    const base = 24_000 + (process.pid % 25) * 300
    t.teardown(() => {
      clickhouseScript(home, 'down')
      rmSync(home, { recursive: true, force: true })
    })

    const up = clickhouseScript(home, 'up', '--shards', '2', '--http-port', String(base))
    t.equal(up.status, 0, up.stderr)
    t.equal(up.stdout, `http://127.0.0.1:${base}`, 'it prints the URL')
    t.equal(await query(base, "SELECT count() FROM cluster('sessionizer', system, one)"), '2', 'the node on the port sees both shards')
    t.ok(await answers(base + 1), 'the second shard answers on the next port')

    for (const port of [base, base + 1]) await query(port, 'CREATE TABLE IF NOT EXISTS default.v (id String) ENGINE = MergeTree ORDER BY id')
    await query(base, 'CREATE TABLE IF NOT EXISTS default.v_all AS default.v ENGINE = Distributed(sessionizer, default, v, cityHash64(id))')
    await query(base, `INSERT INTO default.v_all SELECT toString(number) FROM system.numbers LIMIT 1000`)
    await query(base, 'SYSTEM FLUSH DISTRIBUTED default.v_all').catch(() => '')
    let perShard: string[] = []
    for (let attempt = 0; attempt < 50; attempt++) {
      perShard = [await query(base, 'SELECT count() FROM default.v'), await query(base + 1, 'SELECT count() FROM default.v')]
      if (Number(perShard[0]) + Number(perShard[1]) === 1000) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    t.equal(Number(perShard[0]) + Number(perShard[1]), 1000, 'a Distributed table spreads its rows over the shards')
    t.ok(perShard.every(count => Number(count) > 0), `both shards hold rows: ${perShard.join(' and ')}`)

    const before = pids(home, 2)
    const again = clickhouseScript(home, 'up', '--shards', '2', '--http-port', String(base))
    t.equal(again.stdout, `http://127.0.0.1:${base}`)
    t.same(pids(home, 2), before, 'up again leaves the running cluster alone')

    const one = clickhouseScript(home, 'up', '--shards', '1', '--http-port', String(base))
    t.equal(one.status, 0, one.stderr)
    t.equal(await query(base, "SELECT count() FROM cluster('sessionizer', system, one)"), '1', 'another shape restarts it')
    t.notOk(await answers(base + 1), 'the shard it no longer has is stopped')

    const down = clickhouseScript(home, 'down')
    t.equal(down.status, 0)
    t.notOk(await answers(base), 'down stops every node')
  })

  t.test('bad arguments are refused with a message naming them', async t => {
    const home = t.testdir({})
    t.match(clickhouseScript(home, 'up', '--shards', '0'), { status: 2, stderr: /--shards must be 1 to 99, got 0/ })
    t.match(clickhouseScript(home, 'up', '--http-port', '80'), { status: 2, stderr: /--http-port must be 1024 to 65300, got 80/ })
    t.match(clickhouseScript(home, 'up', '--verbose'), { status: 2, stderr: /usage: clickhouse\.sh up/ })
    t.match(clickhouseScript(home, 'sideways'), { status: 2, stderr: /usage/ })
    t.match(clickhouseScript(home, 'down'), { status: 0 }, 'down with nothing running is fine')
    t.throws(() => clickhouseScriptOrThrow(home, 'up', '--shards', '0'), { message: /^clickhouse\.sh up --shards 0: clickhouse: --shards must be 1 to 99, got 0/ },
      'the bench and the tests stop at a failed start, with what the script said')
    const schema = (...args: string[]) => spawnSync(process.execPath, [compiled('scripts/clickhouse-schema.ts'), ...args], { encoding: 'utf8' })
    t.match(schema(), { status: 1, stderr: /usage: clickhouse:schema -- \[--database DB\] URL…/ })
    t.match(schema('--database', 'a;b', 'http://127.0.0.1:9'), { status: 1, stderr: /--database must be letters, digits and underscores, got "a;b"/ })
    t.match(schema('http://127.0.0.1:9'), { status: 1, stderr: /clickhouse:schema: .*ECONNREFUSED/ })
  })
}
