// Decisions about one transfer that need no engine state: chunk size,
// what a refusal code means to a person, whether a destination fits, and
// finding a file a crash left already moved (docs/PROTOCOL.md §8.4–§8.6).

import { constants as fsConstants } from 'node:fs'
import { access, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { type ErrorCode, ParleyError } from '../util/errors.js'
import type { ChunkIo } from './chunk-pool.js'
import {
  CHUNK_BYTES_DEFAULT,
  CHUNK_BYTES_MAX,
  CHUNKS_MAX,
  DISK_RESERVE_BYTES,
  RefusalCode,
} from './constants.js'
import { hashFile } from './hash.js'
import { numberedName } from './names.js'
import { TERMINAL_STATES, type TransferRecord } from './store.js'

const REFUSAL_ERRORS: Record<number, ErrorCode> = {
  [RefusalCode.Disabled]: 'FILETRANSFER_DISABLED',
  [RefusalCode.TooLarge]: 'FILE_TOO_LARGE',
  [RefusalCode.NoSpace]: 'DISK_FULL',
  [RefusalCode.BadName]: 'BAD_FILE_NAME',
  [RefusalCode.Busy]: 'BUSY',
}

/** Chunk size for a file: the default, doubled until the chunk count fits CHUNKS_MAX. */
export function chunkBytesFor(size: number): number {
  let chunk = CHUNK_BYTES_DEFAULT
  while (Math.ceil(size / chunk) > CHUNKS_MAX && chunk < CHUNK_BYTES_MAX) chunk *= 2
  return chunk
}

export function isActive(r: TransferRecord): boolean {
  if (TERMINAL_STATES.has(r.state)) return false
  return r.direction === 'out' || r.state === 'receiving' || r.state === 'moving'
}

export function refusalError(kind: 'decline' | 'cancel', code: number, message: string) {
  const mapped = REFUSAL_ERRORS[code]
  if (mapped !== undefined) return { code: mapped, message }
  if (code === RefusalCode.ByUser) {
    return { code: kind === 'decline' ? 'TRANSFER_DECLINED' : 'TRANSFER_CANCELLED', message }
  }
  return { code: 'TRANSFER_FAILED', message }
}

/**
 * After a crash in the move (§8.6): the partial file is gone; the file is
 * under the first free `name (n)` it could take, recognised by its hash.
 */
export async function findPlaced(r: TransferRecord, chunks: ChunkIo): Promise<string | null> {
  if (r.part_path === undefined || r.dir === undefined) return null
  if ((await stat(r.part_path).catch(() => null)) !== null) return null
  for (let n = 0; n < 1000; n++) {
    const path = join(r.dir, numberedName(r.name, n))
    const info = await stat(path).catch(() => null)
    if (info === null) return null
    if (info.size !== r.size) continue
    const { file_hash } = await hashFile(path, r.size, r.chunk_bytes, chunks)
    if (file_hash.toString('hex') === r.file_hash) return path
  }
  return null
}

/** The destination must be a writable folder with room for the file and a reserve. */
export async function checkDestination(dir: string, size: number): Promise<void> {
  const info = await stat(dir).catch(() => null)
  if (info === null || !info.isDirectory()) {
    throw new ParleyError('USAGE', `${dir} is not a folder; create it or choose another with --to`)
  }
  await access(dir, fsConstants.W_OK).catch(() => {
    throw new ParleyError('USAGE', `cannot write to ${dir}; choose another folder with --to`)
  })
  const fs = await statfs(dir)
  const free = Number(fs.bavail) * Number(fs.bsize)
  if (free < size + DISK_RESERVE_BYTES) {
    throw new ParleyError(
      'DISK_FULL',
      `not enough space in ${dir}: the file needs ${size} bytes and ${free} are free (keeping ${DISK_RESERVE_BYTES} in reserve); free some space or choose another folder with --to`,
    )
  }
}
