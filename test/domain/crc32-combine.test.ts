import t from 'tap'
import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { crc32Combine } from '../../src/domain/crc32-combine.js'

t.test('the CRCs of two runs of bytes combine into the CRC of both, as zlib computes it', async t => {
  const bytes = randomBytes(70_001)
  for (const split of [0, 1, 2, 3, 4096, 35_000, 69_999, 70_000, 70_001]) {
    const [a, b] = [bytes.subarray(0, split), bytes.subarray(split)]
    t.equal(crc32Combine(crc32(a), crc32(b), b.length), crc32(bytes), `split at ${split}`)
  }
})

t.test('a second run longer than 2^31 bytes, as in a file of gigabytes', async t => {
  const bytes = randomBytes(1000)
  const zeros = Buffer.alloc(1 << 20)
  const times = 2049
  let whole = crc32(bytes)
  let ofZeros = 0
  for (let i = 0; i < times; i++) {
    whole = crc32(zeros, whole)
    ofZeros = crc32(zeros, ofZeros)
  }
  t.equal(crc32Combine(crc32(bytes), ofZeros, times * zeros.length), whole)
})
