// A deliberately naive second implementation, for checking the real one: objects, maps and sorting, no
// shortcuts, and a CSV reader that shares nothing with the service's.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface View { visitor: string, site: string, page: string, time: number }

/** Splits one CSV line; handles quoted fields without line breaks, which is all the checked data has. */
function splitCsvLine (line: string): string[] {
  const fields: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { field += '"'; i++ } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') { fields.push(field); field = '' } else field += c
  }
  fields.push(field)
  return fields
}

function readViews (dir: string): View[] {
  const views: View[] = []
  for (const name of readdirSync(dir).filter(n => n.endsWith('.csv'))) {
    const lines = readFileSync(join(dir, name), 'utf8').split(/\r?\n/)
    for (const line of lines) {
      if (line === '' || line === 'visitor_id,site_url,page_view_url,timestamp') continue
      const fields = splitCsvLine(line)
      if (fields.length !== 4 || fields[0] === '' || fields[1] === '' || !/^\d+$/.test(fields[3])) continue
      views.push({ visitor: fields[0], site: fields[1], page: fields[2], time: Number(fields[3]) })
    }
  }
  return views
}

export interface NaiveSession {
  visitor: string
  start: number
  length: number
  views: number
  pages: string[]
  /** Of the pages viewed in the session's first second, the one whose URL sorts first. */
  entry: string
}

export interface NaiveAnswers {
  /** Every session's length, ascending, by site. */
  lengthsBySite: Map<string, number[]>
  /** Every session, by site, in no particular order. */
  sessionListBySite: Map<string, NaiveSession[]>
  sessionsBySite: Map<string, number>
  medianBySite: Map<string, number>
  sitesByVisitor: Map<string, number>
}

export function naiveAnswers (dir: string, timeoutSeconds = 1800): NaiveAnswers {
  const views = readViews(dir)
  const viewsByVisitorAndSite = new Map<string, View[]>()
  const sitesOfVisitor = new Map<string, Set<string>>()
  for (const view of views) {
    const key = JSON.stringify([view.site, view.visitor])
    if (!viewsByVisitorAndSite.has(key)) viewsByVisitorAndSite.set(key, [])
    viewsByVisitorAndSite.get(key)!.push(view)
    if (!sitesOfVisitor.has(view.visitor)) sitesOfVisitor.set(view.visitor, new Set())
    sitesOfVisitor.get(view.visitor)!.add(view.site)
  }
  const lengthsBySite = new Map<string, number[]>()
  const sessionListBySite = new Map<string, NaiveSession[]>()
  for (const group of viewsByVisitorAndSite.values()) {
    group.sort((a, b) => a.time - b.time)
    const site = group[0].site
    if (!lengthsBySite.has(site)) lengthsBySite.set(site, [])
    if (!sessionListBySite.has(site)) sessionListBySite.set(site, [])
    let first = 0
    for (let i = 1; i <= group.length; i++) {
      if (i === group.length || group[i].time - group[i - 1].time > timeoutSeconds) {
        lengthsBySite.get(site)!.push(group[i - 1].time - group[first].time)
        sessionListBySite.get(site)!.push({
          visitor: group[0].visitor,
          start: group[first].time,
          length: group[i - 1].time - group[first].time,
          views: i - first,
          pages: group.slice(first, i).map(view => view.page),
          entry: group.slice(first, i).filter(view => view.time === group[first].time).map(view => view.page).sort()[0]
        })
        first = i
      }
    }
  }
  const sessionsBySite = new Map<string, number>()
  const medianBySite = new Map<string, number>()
  for (const [site, lengths] of lengthsBySite) {
    lengths.sort((a, b) => a - b)
    const n = lengths.length
    sessionsBySite.set(site, n)
    medianBySite.set(site, n % 2 === 1 ? lengths[(n - 1) / 2] : (lengths[n / 2 - 1] + lengths[n / 2]) / 2)
  }
  const sitesByVisitor = new Map([...sitesOfVisitor].map(([visitor, sites]) => [visitor, sites.size]))
  return { lengthsBySite, sessionListBySite, sessionsBySite, medianBySite, sitesByVisitor }
}
