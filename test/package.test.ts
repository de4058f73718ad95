// The README's commands run what the build makes: npm start must start the compiled server.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { PROJECT_ROOT } from '../src/project-root.js'

const read = (file: string) => JSON.parse(readFileSync(join(PROJECT_ROOT, file), 'utf8'))

t.test('npm start runs the file tsc compiles src/server.ts to', async t => {
  const { scripts, main } = read('package.json')
  const { compilerOptions } = read('tsconfig.json')
  const built = join(compilerOptions.outDir, relative(compilerOptions.rootDir, 'src/server.ts')).replace(/\.ts$/, '.js')
  t.equal(scripts.start, `node ${built}`)
  t.equal(main, built)
  t.match(scripts.prestart, /npm run build/, 'npm start builds first')
  t.match(scripts.test, /lint.*typecheck.*tap/)
})
