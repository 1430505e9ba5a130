// Folders (docs/PROTOCOL.md §8.5): a folder is sent as one transfer per
// regular file, each OFFER named by its relative path `top/sub/file.txt`,
// so resume, progress, verification and every limit work per file as for a
// single file. This module walks the source folder (bounded), creates the
// folders of a received path safely at the destination, and runs a folder
// send: at most FOLDER_WINDOW of its files offered at once, the next offered
// as one ends, the plan kept on disk so a restarted sender carries on.

import { constants as fsConstants } from 'node:fs'
import { access, lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { Clock, TimerHandle } from '../util/clock.js'
import { isParleyError, ParleyError } from '../util/errors.js'
import type { Random } from '../util/random.js'
import {
  FILE_BYTES_MAX,
  FOLDER_BUSY_RETRY_MS,
  FOLDER_BUSY_RETRY_MS_MAX,
  FOLDER_FILES_MAX,
  FOLDER_SKIPPED_SHOWN_MAX,
  FOLDER_WINDOW,
  FOLDERS_KEPT_MAX,
  PATH_COMPONENTS_MAX,
} from './constants.js'
import { nameProblem, pathProblem } from './names.js'
import type { TransferView } from './progress.js'
import { syncDir, writeAtomically } from './store.js'

export interface Skipped {
  /** Relative to the folder sent, '/'-separated. */
  path: string
  reason: string
}

export interface FolderPlan {
  top: string
  /** Relative paths under the folder, '/'-separated, in the order they are sent. */
  files: string[]
  bytes: number
  skipped: Skipped[]
  skipped_count: number
}

/**
 * Every regular file under `root`, depth first in name order. Symbolic links
 * (never followed), devices, sockets, pipes, unreadable entries and names the
 * recipient would refuse are skipped and listed. More than FOLDER_FILES_MAX
 * files, or none, is an error.
 */
export async function walkFolder(root: string): Promise<FolderPlan> {
  const top = basename(root)
  const problem = nameProblem(top)
  if (problem !== null) {
    throw new ParleyError(
      'BAD_FILE_NAME',
      `the recipient would refuse the folder name "${top}": ${problem}; rename it first`,
    )
  }
  const plan: FolderPlan = { top, files: [], bytes: 0, skipped: [], skipped_count: 0 }
  const skip = (path: string, reason: string) => {
    plan.skipped_count++
    if (plan.skipped.length < FOLDER_SKIPPED_SHOWN_MAX) plan.skipped.push({ path, reason })
  }
  // Components of a name: the top folder, `depth` folders, the file.
  const visit = async (rel: string, depth: number): Promise<void> => {
    let entries: import('node:fs').Dirent[]
    try {
      entries = await readdir(join(root, rel), { withFileTypes: true })
    } catch (err) {
      skip(rel, `cannot read the folder: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
      return
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (entry.isSymbolicLink()) skip(path, 'a symbolic link (not followed)')
      else if (entry.isDirectory()) {
        if (depth + 3 > PATH_COMPONENTS_MAX) skip(path, `deeper than ${PATH_COMPONENTS_MAX} levels`)
        else await visit(path, depth + 1)
      } else if (!entry.isFile()) skip(path, 'not a regular file (a device, socket or pipe)')
      else {
        const problem = pathProblem(`${top}/${path}`)
        const full = join(root, path)
        const info = problem === null ? await lstat(full).catch(() => null) : null
        const readable =
          info !== null &&
          (await access(full, fsConstants.R_OK).then(
            () => true,
            () => false,
          ))
        if (problem !== null) skip(path, `the recipient would refuse it: ${problem}`)
        else if (info === null || !info.isFile() || !readable) skip(path, 'cannot read it')
        else if (info.size > FILE_BYTES_MAX) skip(path, `over ${FILE_BYTES_MAX} bytes`)
        else {
          if (plan.files.length >= FOLDER_FILES_MAX) {
            throw new ParleyError(
              'USAGE',
              `${root} has more than ${FOLDER_FILES_MAX} files; send an archive of it, or its subfolders one by one`,
            )
          }
          plan.files.push(path)
          plan.bytes += info.size
        }
      }
    }
  }
  await visit('', 0)
  if (plan.files.length === 0) {
    throw new ParleyError(
      'USAGE',
      `${root} has no files to send${plan.skipped_count > 0 ? ` (${plan.skipped_count} entries skipped: ${plan.skipped.map((s) => `${s.path}: ${s.reason}`).join('; ')})` : ''}`,
    )
  }
  return plan
}

/**
 * Creates the folders of a received relative path under `dir` (mode 0700),
 * never through a symbolic link: every component is checked again by the
 * §8.5 rules and must be a real folder (lstat) once created or found, so a
 * link planted at the destination is refused, not followed.
 */
export async function makeFolders(dir: string, name: string): Promise<void> {
  const problem = pathProblem(name)
  if (problem !== null) throw new Error(`refusing the path ${JSON.stringify(name)}: ${problem}`)
  let current = dir
  for (const part of name.split('/').slice(0, -1)) {
    current = join(current, part)
    let created = true
    try {
      await mkdir(current, { mode: 0o700 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      created = false
    }
    const info = await lstat(current)
    if (!info.isDirectory() || info.isSymbolicLink()) {
      throw new Error(`${current} exists and is not a folder (a file or a symbolic link)`)
    }
    if (created) await syncDir(join(current, '..'))
  }
}

// ---- sending a folder ----

export type FolderState = 'sending' | 'completed' | 'failed' | 'cancelled'

/** `<home>/transfers/folder-<id>.json`; its file list is in `folder-<id>.list`, written once. */
export interface FolderRecord {
  id: string
  peer: string
  /** The top folder's name, the first component of every OFFER name. */
  name: string
  /** The folder on this machine. */
  root: string
  files: number
  bytes: number
  /** Files[0 … next − 1] were handed to the engine. */
  next: number
  /** Handed to the engine and not yet ended: index and transfer id. */
  pending: { index: number; id: string }[]
  /**
   * Files the receiver declined as Busy, until they are offered again
   * (absent in older records). Kept here until then, so a crash loses none.
   */
  busy?: number[]
  files_done: number
  files_failed: number
  bytes_done: number
  skipped: Skipped[]
  skipped_count: number
  state: FolderState
  error: { code: string; message: string } | null
  created_at_ms: number
  finished_at_ms: number | null
}

/** A folder send as the API and the CLI show it (`GET /v1/transfers` → `folders`). */
export interface FolderView {
  id: string
  kind: 'folder'
  direction: 'out'
  peer: string
  name: string
  path: string
  files: number
  files_done: number
  files_failed: number
  size: number
  bytes_done: number
  state: FolderState
  rate_bytes_per_s: number
  eta_s: number | null
  skipped: Skipped[]
  skipped_count: number
  error: { code: string; message: string } | null
  created_at_ms: number
  finished_at_ms: number | null
}

/** What a folder send needs of the engine. */
export interface FolderHost {
  sendFile(peer: string, path: string, name: string, folder_id: string): Promise<TransferView>
  cancel(id: string): Promise<unknown>
  list(): TransferView[]
}

const TERMINAL = new Set(['completed', 'declined', 'cancelled', 'failed'])
/** A refusal that every other file of the folder would get too: stop the folder. */
const FOLDER_ENDING_ERRORS = new Set(['FILETRANSFER_DISABLED', 'BAD_FILE_NAME'])

interface Folder {
  record: FolderRecord
  files: string[]
  pumping: boolean
  /** Busy files whose wait is over (still in `record.busy`), offered before the next new file. */
  ready: number[]
  /** The wait before the busy files are offered again, and its timer. */
  busyDelay_ms: number
  busyTimer: TimerHandle | null
  /** Saves of one folder run one after the other, so an older state never lands last. */
  saving: Promise<void>
}

export class FolderSender {
  private readonly folders = new Map<string, Folder>()

  constructor(
    private readonly dir: string,
    private readonly host: FolderHost,
    private readonly clock: Clock,
    private readonly random: Random,
    /** Told of every change to a folder send (it is saved at each), for `folder.updated` events. */
    private readonly changed: (folder: FolderView) => void = () => {},
  ) {}

  /** Loads unfinished and recent folders; what was pending and lost before its record was saved is sent again. */
  async start(): Promise<string[]> {
    const warnings: string[] = []
    const names = await readdir(this.dir).catch(() => [] as string[])
    for (const n of names) {
      const m = /^folder-([0-9a-f]{32})\.json$/.exec(n)
      if (m === null) continue
      try {
        const record = JSON.parse(await readFile(join(this.dir, n), 'utf8')) as FolderRecord
        const files = (await readFile(join(this.dir, `folder-${m[1]}.list`), 'utf8'))
          .split('\n')
          .filter((x) => x !== '')
        // Busy files waited through the restart: they are offered again at once.
        const ready = [...(record.busy ?? [])]
        this.folders.set(record.id, { ...this.fresh(record, files), ready })
      } catch (err) {
        warnings.push(`skipping folder record ${n}: ${(err as Error).message}`)
      }
    }
    for (const f of this.folders.values()) {
      if (f.record.state !== 'sending') continue
      const known = new Map(this.host.list().map((t) => [t.id, t]))
      for (const p of [...f.record.pending]) {
        const t = known.get(p.id)
        if (t === undefined) {
          // Handed to the engine but never saved by it (a crash while hashing): again.
          f.record.pending = f.record.pending.filter((x) => x !== p)
          f.record.next = Math.min(f.record.next, p.index)
        } else if (TERMINAL.has(t.state)) this.ended(f, t)
      }
      await this.save(f)
      void this.pump(f)
    }
    return warnings
  }

  async send(peer: string, root: string): Promise<FolderView> {
    const plan = await walkFolder(root)
    const record: FolderRecord = {
      id: Buffer.from(this.random.bytes(16)).toString('hex'),
      peer,
      name: plan.top,
      root,
      files: plan.files.length,
      bytes: plan.bytes,
      next: 0,
      pending: [],
      busy: [],
      files_done: 0,
      files_failed: 0,
      bytes_done: 0,
      skipped: plan.skipped,
      skipped_count: plan.skipped_count,
      state: 'sending',
      error: null,
      created_at_ms: this.clock.wallNow(),
      finished_at_ms: null,
    }
    await writeAtomically(this.dir, `folder-${record.id}.list`, `${plan.files.join('\n')}\n`)
    const f = this.fresh(record, plan.files)
    this.folders.set(record.id, f)
    await this.save(f)
    await this.prune()
    await this.pump(f)
    return this.view(f)
  }

  private fresh(record: FolderRecord, files: string[]): Folder {
    return {
      record,
      files,
      pumping: false,
      ready: [],
      busyDelay_ms: FOLDER_BUSY_RETRY_MS,
      busyTimer: null,
      saving: Promise.resolve(),
    }
  }

  /** Daemon shutdown: no more retries; busy files stay in the records for the next start. */
  close(): void {
    for (const f of this.folders.values()) {
      if (f.busyTimer !== null) this.clock.clearTimeout(f.busyTimer)
      f.busyTimer = null
    }
  }

  /** A transfer changed: a file of a folder that ended frees its slot for the next. */
  onTransfer(t: TransferView): void {
    if (!TERMINAL.has(t.state)) return
    const f = t.folder_id === null ? undefined : this.folders.get(t.folder_id)
    if (f?.record.pending.some((p) => p.id === t.id)) {
      this.ended(f, t)
      void this.save(f).catch(() => {})
    }
    // Any transfer that ends may make room (TRANSFERS_ACTIVE_MAX) for a waiting folder.
    for (const g of this.folders.values()) if (g.record.state === 'sending') void this.pump(g)
  }

  private ended(f: Folder, t: TransferView, index?: number): void {
    const r = f.record
    const at = index ?? r.pending.find((p) => p.id === t.id)?.index
    r.pending = r.pending.filter((p) => p.id !== t.id)
    if (r.state !== 'sending') return
    if (t.state === 'completed') {
      r.files_done++
      r.bytes_done += t.size
      f.busyDelay_ms = FOLDER_BUSY_RETRY_MS
      return
    }
    if (t.error?.code === 'BUSY' && at !== undefined) {
      this.waitBusy(f, at)
      return
    }
    r.files_failed++
    const error = t.error ?? { code: 'TRANSFER_FAILED', message: t.state }
    r.error ??= { code: error.code, message: `${t.name}: ${error.message}` }
    if (FOLDER_ENDING_ERRORS.has(error.code)) this.stop(f, 'failed', r.error)
  }

  /** The receiver had no room for the offer: offer that file again later, backing off. */
  private waitBusy(f: Folder, index: number): void {
    const r = f.record
    r.busy = [...(r.busy ?? []), index]
    if (f.busyTimer !== null) return
    f.busyTimer = this.clock.setTimeout(() => {
      f.busyTimer = null
      f.ready = [...(r.busy ?? [])]
      void this.pump(f)
    }, f.busyDelay_ms)
    f.busyDelay_ms = Math.min(f.busyDelay_ms * 2, FOLDER_BUSY_RETRY_MS_MAX)
  }

  private stop(f: Folder, state: FolderState, error: FolderRecord['error']): void {
    const r = f.record
    r.state = state
    r.error = error
    r.finished_at_ms = this.clock.wallNow()
    if (f.busyTimer !== null) this.clock.clearTimeout(f.busyTimer)
    f.busyTimer = null
    for (const p of r.pending) void this.host.cancel(p.id).catch(() => {})
  }

  /** Offers files until FOLDER_WINDOW of them are under way; ends the folder after its last file. */
  private async pump(f: Folder): Promise<void> {
    if (f.pumping) return
    f.pumping = true
    const r = f.record
    try {
      while (r.state === 'sending') {
        if (r.pending.length >= FOLDER_WINDOW) break
        const again = f.ready.length > 0
        if (!again && r.next >= f.files.length) {
          const waiting = (r.busy?.length ?? 0) > 0
          if (r.pending.length === 0 && !waiting) {
            const failed = r.files_failed
            const error =
              failed === 0
                ? null
                : {
                    code: r.error?.code ?? 'TRANSFER_FAILED',
                    message: `${failed} of ${r.files} files were not delivered; the first: ${r.error?.message ?? ''}`,
                  }
            r.state = failed === 0 ? 'completed' : 'failed'
            r.error = error
            r.finished_at_ms = this.clock.wallNow()
            await this.save(f)
          }
          break
        }
        const index = again ? f.ready[0]! : r.next
        const rel = f.files[index]!
        try {
          const t = await this.host.sendFile(
            r.peer,
            join(r.root, ...rel.split('/')),
            `${r.name}/${rel}`,
            r.id,
          )
          this.taken(f, index, again)
          if (TERMINAL.has(t.state)) this.ended(f, t, index)
          else r.pending.push({ index, id: t.id })
        } catch (err) {
          if (isParleyError(err, 'BUSY')) break // the next transfer that ends pumps again
          this.taken(f, index, again)
          r.files_failed++
          r.error ??= { code: 'TRANSFER_FAILED', message: `${rel}: ${(err as Error).message}` }
          if (isParleyError(err, 'FILETRANSFER_DISABLED')) this.stop(f, 'failed', r.error)
        }
        await this.save(f)
      }
    } finally {
      f.pumping = false
    }
  }

  /** File `index` was handed to the engine (or failed to be): it is no longer next. */
  private taken(f: Folder, index: number, again: boolean): void {
    if (!again) {
      f.record.next = index + 1
      return
    }
    f.ready.shift()
    f.record.busy = (f.record.busy ?? []).filter((i) => i !== index)
  }

  /** Cancels a folder send: its running files are cancelled, the rest never offered. */
  async cancel(id: string): Promise<FolderView | null> {
    const f = this.folders.get(id)
    if (f === undefined) return null
    if (f.record.state !== 'sending') {
      throw new ParleyError('USAGE', `folder ${id.slice(0, 8)} is already ${f.record.state}`)
    }
    this.stop(f, 'cancelled', { code: 'TRANSFER_CANCELLED', message: 'you cancelled it' })
    await this.save(f)
    return this.view(f)
  }

  /** Folder ids starting with `prefix`. */
  match(prefix: string): string[] {
    return [...this.folders.keys()].filter((id) => id.startsWith(prefix))
  }

  list(): FolderView[] {
    return [...this.folders.values()].map((f) => this.view(f))
  }

  private view(f: Folder): FolderView {
    const r = f.record
    const running = this.host
      .list()
      .filter((t) => t.folder_id === r.id && r.pending.some((p) => p.id === t.id))
    const bytes_done = r.bytes_done + running.reduce((s, t) => s + t.bytes_done, 0)
    const rate = running.reduce((s, t) => s + t.rate_bytes_per_s, 0)
    return {
      id: r.id,
      kind: 'folder',
      direction: 'out',
      peer: r.peer,
      name: r.name,
      path: r.root,
      files: r.files,
      files_done: r.files_done,
      files_failed: r.files_failed,
      size: r.bytes,
      bytes_done,
      state: r.state,
      rate_bytes_per_s: rate,
      eta_s:
        r.state === 'sending' && rate > 0
          ? Math.ceil(Math.max(0, r.bytes - bytes_done) / rate)
          : null,
      skipped: r.skipped,
      skipped_count: r.skipped_count,
      error: r.error,
      created_at_ms: r.created_at_ms,
      finished_at_ms: r.finished_at_ms,
    }
  }

  private save(f: Folder): Promise<void> {
    this.changed(this.view(f))
    const write = () =>
      writeAtomically(this.dir, `folder-${f.record.id}.json`, JSON.stringify(f.record))
    f.saving = f.saving.then(write, write)
    return f.saving
  }

  /** Forgets the oldest finished folders beyond FOLDERS_KEPT_MAX. */
  private async prune(): Promise<void> {
    const finished = [...this.folders.values()].filter((f) => f.record.state !== 'sending')
    finished.sort((a, b) => a.record.created_at_ms - b.record.created_at_ms)
    while (this.folders.size > FOLDERS_KEPT_MAX && finished.length > 0) {
      const f = finished.shift()!
      this.folders.delete(f.record.id)
      await f.saving.catch(() => {})
      for (const ext of ['json', 'list'])
        await rm(join(this.dir, `folder-${f.record.id}.${ext}`), { force: true })
    }
  }
}
