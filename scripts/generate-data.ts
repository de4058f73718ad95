// npm run generate-data -- --rows N --sites S --visitors V --files F --out DIR [--seed K --start T --days D]
import { parseArgs } from 'node:util'
import { DEFAULT_GENERATOR_OPTIONS, generatePageViews, type GeneratorOptions } from './lib/page-view-generator.js'

const numericOptions = ['rows', 'sites', 'visitors', 'files', 'seed', 'start', 'days'] as const

function readOptions (args: string[]): GeneratorOptions {
  const text = { type: 'string' } as const
  const { values } = parseArgs({
    args,
    options: { rows: text, sites: text, visitors: text, files: text, seed: text, start: text, days: text, out: text }
  })
  const options = { ...DEFAULT_GENERATOR_OPTIONS }
  for (const name of numericOptions) {
    const raw = values[name]
    if (raw === undefined) continue
    const value = Number(raw)
    const mayBeZero = name === 'seed' || name === 'start'
    if (!Number.isSafeInteger(value) || value < (mayBeZero ? 0 : 1)) {
      throw new Error(`--${name} must be a whole number${mayBeZero ? '' : ' above 0'}, got ${JSON.stringify(raw)}`)
    }
    options[name] = value
  }
  if (typeof values.out === 'string') options.out = values.out
  return options
}

try {
  const options = readOptions(process.argv.slice(2))
  const started = performance.now()
  const paths = generatePageViews(options)
  console.log(`wrote ${options.rows} page views into ${paths.length} files in ${options.out} ` +
    `(${Math.round(performance.now() - started)} ms)`)
} catch (error) {
  console.error(`generate-data: ${(error as Error).message}`)
  process.exit(1)
}
