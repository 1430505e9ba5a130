import { randomBytes } from 'node:crypto'
import { open } from 'node:fs/promises'

/**
 * Writes `size` bytes: 1 MiB of random bytes repeated, each MiB stamped with
 * its index so no two chunks are alike (and no dedupe or cache can shortcut).
 */
export async function writeDistinctChunks(path: string, size: number): Promise<void> {
  const block = randomBytes(1024 * 1024)
  const h = await open(path, 'w')
  try {
    for (let off = 0; off < size; off += block.length) {
      block.writeUInt32LE(off / block.length, 0)
      await h.write(block, 0, Math.min(block.length, size - off), off)
    }
  } finally {
    await h.close()
  }
}
