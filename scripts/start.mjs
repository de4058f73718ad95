// npm start: brings the build up to date when a source or a dependency changed, then runs the bundled server in
// this same process, with the code V8 compiled for it in an earlier run: a second Node process, or npm's
// prestart step, would add a few tenths of a second to every start.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureBuilt } from './ensure-built.mjs'
import { runBundle } from './code-cache.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
ensureBuilt(root)
runBundle(join(root, 'dist', 'bundle', 'server.cjs'))
