// Runs the DuckDB peer in a process of its own, so that its time and peak memory are its own.
// Usage: node duckdb-process.js DIR TIMEOUT THREADS < visitor ids (one a line); prints one JSON line.
import { readFileSync } from 'node:fs'
import { duckdbAnswers } from './duckdb-sessions.js'

const [dir, timeout, threads] = process.argv.slice(2)
const visitorSample = readFileSync(0, 'utf8').split('\n').filter(Boolean)
const started = performance.now()
const answers = await duckdbAnswers(dir, Number(timeout), visitorSample, Number(threads))
const ms = performance.now() - started
const peakRssKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1])
console.log(JSON.stringify({ ms, peakRssBytes: peakRssKb * 1024, sites: [...answers.sites], visitors: [...answers.visitors] }))
