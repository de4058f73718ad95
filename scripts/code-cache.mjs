// Runs the bundled server with the code V8 compiled for it in an earlier run, kept beside the bundle: a start
// then compiles little of the bundle's 3 MB (0.1–0.15 s of every start, measured). Node 20 keeps no such cache
// of its own (module.enableCompileCache came with Node 22), and V8 keeps one for a script, not for an ES module,
// hence the CommonJS bundle. Plain JavaScript, as it runs before anything is compiled.
import { createHash } from 'node:crypto'
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import vm from 'node:vm'

/** A cache file is V8's data after the digest of the bundle and that data. */
const DIGEST_BYTES = 32
/** When the cache is made, from the start: a 10 M-row restart is answering after 1 s. */
const SAVE_AFTER_MS = 3000

/** Runs the CommonJS bundle at `path` in this process, as Node would run it, from its code cache when it has one. */
export function runBundle (path) {
  const source = readFileSync(path)
  const cachePath = `${path}.v8-cache`
  const cachedData = readCache(cachePath, source)
  // The wrapper Node puts around a CommonJS module, on the bundle's first line: its lines keep their numbers.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source.toString()}\n})`, {
    filename: path,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
  })
  if (cachedData === undefined || script.cachedDataRejected) {
    // V8 compiles a function when it is first called: made a while after the start, the cache holds what the
    // start and the load compiled, not the bundle's top level only. Not much later, as V8 drops the compiled
    // code of a function unused for a few collections (a long load's have made it half as big); at a clean
    // exit before then. Not after a failure: it ran too little.
    const save = () => {
      clearTimeout(timer)
      process.off('exit', saveAtCleanExit)
      writeCache(cachePath, source, script)
    }
    const saveAtCleanExit = code => { if (code === 0) save() }
    const timer = setTimeout(save, SAVE_AFTER_MS).unref()
    process.once('exit', saveAtCleanExit)
  }
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(path), module, path, dirname(path))
}

/**
 * V8 checks that a cache suits its own version and flags, and the length of the source only, not its text nor
 * the data itself: the digest keeps out the cache of another bundle of the same length, and a damaged file.
 */
function digestOf (source, data) {
  return createHash('sha256').update(source).update(data).digest()
}

/** V8's data in the cache file at `path`, when it was made for this bundle and is whole. */
function readCache (path, source) {
  let bytes
  try {
    bytes = readFileSync(path)
  } catch {
    return undefined
  }
  const data = bytes.subarray(DIGEST_BYTES)
  return bytes.subarray(0, DIGEST_BYTES).equals(digestOf(source, data)) ? data : undefined
}

/** Writes the cache whole or not at all (temporary file, then rename); a folder it cannot write to goes without. */
function writeCache (path, source, script) {
  const temporary = `${path}.${process.pid}.tmp`
  try {
    const data = script.createCachedData()
    writeFileSync(temporary, Buffer.concat([digestOf(source, data), data]))
    renameSync(temporary, path)
  } catch {
    rmSync(temporary, { force: true })
  }
}
