// Transfer records on disk: `<home>/transfers/<id>.json`, one per transfer,
// replaced atomically (temporary file, fsync, rename, fsync of the directory)
// so a crash leaves the old record or the new one, never a mix. The
// receiver's record lists only chunks whose bytes were fsynced before the
// record was written: a chunk it names is on disk (docs/PROTOCOL.md §8.6).

import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export const TRANSFERS_DIR = 'transfers'
/** What a record's hashes are: SHA-256 since transfer protocol 2 (§8.1). */
export const HASH_NAME = 'sha256'
const RECORD_BYTES_MAX = 1024 * 1024

export type TransferState =
  | 'preparing'
  | 'offered'
  | 'receiving'
  | 'sending'
  | 'moving'
  | 'completed'
  | 'declined'
  | 'cancelled'
  | 'failed'

export const TERMINAL_STATES: ReadonlySet<TransferState> = new Set([
  'completed',
  'declined',
  'cancelled',
  'failed',
])

export interface TransferRecord {
  id: string
  direction: 'in' | 'out'
  /** The peer's Parley ID. */
  peer: string
  name: string
  size: number
  chunk_bytes: number
  file_hash: string
  /** The hash of `file_hash` and the chunk hashes (§8.3); records without it are from transfer protocol 1. */
  hash?: typeof HASH_NAME
  state: TransferState
  created_at_ms: number
  finished_at_ms: number | null
  error: { code: string; message: string } | null
  /** Sender: the file being sent, and its size and mtime when it was hashed. */
  source_path?: string
  source_mtime_ms?: number
  /** Receiver: where it goes, the partial file, and the final path once moved. */
  dir?: string
  part_path?: string
  final_path?: string
  /** Receiver: bitmap of chunks durably on disk, base64. */
  verified?: string
  /** Sender: the folder send this file belongs to (§8.5). */
  folder_id?: string
  /** Receiver: its person accepted the whole folder; its next files are accepted too. */
  folder_accept?: boolean
}

export class TransferStore {
  readonly dir: string
  constructor(home: string) {
    this.dir = join(home, TRANSFERS_DIR)
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
  }

  async save(record: TransferRecord): Promise<void> {
    await writeAtomically(this.dir, `${record.id}.json`, JSON.stringify(record))
  }

  /** The sender's chunk hashes, so a restarted sender does not read the file twice. */
  async saveHashes(id: string, hashes: Buffer): Promise<void> {
    const tmp = join(this.dir, `.${id}.hashes.tmp`)
    await writeFile(tmp, hashes, { mode: 0o600 })
    await rename(tmp, join(this.dir, `${id}.hashes`))
  }

  loadHashes(id: string): Promise<Buffer | null> {
    return readFile(join(this.dir, `${id}.hashes`)).catch(() => null)
  }

  async removeHashes(id: string): Promise<void> {
    await rm(join(this.dir, `${id}.hashes`), { force: true })
  }

  async remove(id: string): Promise<void> {
    await rm(join(this.dir, `${id}.json`), { force: true })
    await this.removeHashes(id)
  }

  /** Every readable record; unreadable ones are skipped and returned as warnings. */
  async loadAll(): Promise<{ records: TransferRecord[]; warnings: string[] }> {
    const records: TransferRecord[] = []
    const warnings: string[] = []
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch {
      return { records, warnings }
    }
    for (const name of names) {
      if (name.startsWith('.') && name.endsWith('.tmp')) {
        await rm(join(this.dir, name), { force: true })
        continue
      }
      if (!/^[0-9a-f]{32}\.json$/.test(name)) continue
      try {
        const text = await readFile(join(this.dir, name), 'utf8')
        if (text.length > RECORD_BYTES_MAX) throw new Error('too large')
        const r = JSON.parse(text) as TransferRecord
        if (typeof r.id !== 'string' || (r.direction !== 'in' && r.direction !== 'out')) {
          throw new Error('not a transfer record')
        }
        records.push(r)
      } catch (err) {
        warnings.push(`skipping transfer record ${name}: ${(err as Error).message}`)
      }
    }
    return { records, warnings }
  }
}

/** Replaces `dir/name` (mode 0600): temporary file, fsync, rename, fsync of the directory. */
export async function writeAtomically(dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`)
  const handle = await open(tmp, 'w', 0o600)
  try {
    await handle.writeFile(text, 'utf8')
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, join(dir, name))
  await syncDir(dir)
}

export async function syncDir(dir: string): Promise<void> {
  try {
    const h = await open(dir, 'r')
    try {
      await h.sync()
    } finally {
      await h.close()
    }
  } catch {
    // Some platforms (Windows) cannot fsync a directory; rename is still atomic there.
  }
}

/** A set of chunk indices as a bitmap, kept as base64 in records. */
export class Bitmap {
  readonly bits: Uint8Array
  count = 0
  constructor(readonly size: number) {
    this.bits = new Uint8Array(Math.ceil(size / 8))
  }
  static from(size: number, base64: string | undefined): Bitmap {
    const b = new Bitmap(size)
    if (base64 === undefined) return b
    const raw = Buffer.from(base64, 'base64')
    for (let i = 0; i < size; i++) if (((raw[i >> 3] ?? 0) >> (i & 7)) & 1) b.set(i)
    return b
  }
  has(i: number): boolean {
    return ((this.bits[i >> 3]! >> (i & 7)) & 1) === 1
  }
  set(i: number): void {
    if (this.has(i)) return
    this.bits[i >> 3] = this.bits[i >> 3]! | (1 << (i & 7))
    this.count++
  }
  toBase64(): string {
    return Buffer.from(this.bits).toString('base64')
  }
}
