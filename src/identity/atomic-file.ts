// Creating a file that must never be half-written and never replace an
// existing one (the keystore). Kept apart from the keystore's rules so each
// file reads at once.

import { randomBytes } from 'node:crypto'
import { link, lstat, open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** link(2) errors meaning "this filesystem has no hard links", where rename is the fallback. */
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])
/** Errors from fsync on a directory on platforms that cannot do it (Windows, some filesystems). */
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EACCES', 'EBADF'])

/**
 * Writes `text` to a new file at `path` with `mode`: a temporary file in the
 * same directory, fsync, then link() into place and fsync the directory.
 * Returns false, writing nothing, if `path` already exists. A crash leaves
 * either no file or the whole file, never a partial one.
 */
export async function createFileAtomically(
  path: string,
  text: string,
  mode: number,
): Promise<boolean> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  let created: boolean
  try {
    await writeDurably(tmp, text, mode)
    created = await publishNoClobber(tmp, path)
  } finally {
    await rm(tmp, { force: true })
  }
  if (created) await syncDirectory(dirname(path))
  return created
}

async function writeDurably(path: string, text: string, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode)
  try {
    // The umask may have cleared bits from the mode given to open().
    await handle.chmod(mode)
    await handle.writeFile(text, 'utf-8')
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** link() fails if the target exists, unlike rename(): even two `parley init` at once cannot replace a file. */
async function publishNoClobber(tmp: string, path: string): Promise<boolean> {
  try {
    await link(tmp, path)
    return true
  } catch (err) {
    if (codeOf(err) === 'EEXIST') return false
    if (!LINK_UNSUPPORTED.has(codeOf(err) ?? '')) throw err
  }
  // No hard links on this filesystem: rename after a last check (a narrow race remains there).
  if (await pathExists(path)) return false
  await rename(tmp, path)
  return true
}

/** Makes a new directory entry durable; skipped where the platform cannot fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (err) {
    if (!DIR_SYNC_UNSUPPORTED.has(codeOf(err) ?? '')) throw err
  }
}

export async function pathExists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (err) => {
      if (codeOf(err) === 'ENOENT') return false
      throw err
    },
  )
}

export function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code
}
