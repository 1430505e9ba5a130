import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { DaemonProcess } from '../../daemon/spawn.js'
import type { TransferView } from '../../transfer/index.js'

const DEMO_FILE_BYTES = 32 * 1024 * 1024
const POLL_MS = 20

/** The demo's file-transfer step: alice sends bob a file; throughput and the verified hash. */
export async function demoTransfer(
  root: string,
  alice: DaemonProcess,
  bob: DaemonProcess,
  bobId: string,
): Promise<{
  step: { name: string; ok: boolean; detail: string }
  report: Record<string, unknown>
}> {
  const source = join(root, 'holiday.mov')
  const data = randomBytes(DEMO_FILE_BYTES)
  await writeFile(source, data)
  const inbox = join(root, 'bob-inbox')
  await mkdir(inbox)
  const sent = await alice.client.request<TransferView>('POST', '/v1/transfers/send', {
    to: bobId,
    path: source,
  })
  const until = async (d: DaemonProcess, done: (t: TransferView) => boolean) => {
    for (let i = 0; i < 60_000 / POLL_MS; i++) {
      const { transfers } = await d.client.request<{ transfers: TransferView[] }>(
        'GET',
        '/v1/transfers',
      )
      const t = transfers.find((x) => x.id === sent.id)
      if (t !== undefined && done(t)) return t
      await new Promise((r) => setTimeout(r, POLL_MS))
    }
    throw new Error('the transfer did not finish within 60 s')
  }
  await until(bob, (t) => t.state === 'offered')
  const started_ms = performance.now()
  await bob.client.request('POST', '/v1/transfers/accept', { id: sent.id, to: inbox })
  const t = await until(bob, (x) => ['completed', 'failed', 'cancelled'].includes(x.state))
  const seconds = (performance.now() - started_ms) / 1000
  const same = t.state === 'completed' && (await readFile(t.path!)).equals(data)
  const mbps = DEMO_FILE_BYTES / 1e6 / seconds
  return {
    step: {
      name: `alice sends bob a ${DEMO_FILE_BYTES >> 20} MiB file`,
      ok: same,
      detail: same
        ? `${mbps.toFixed(1)} MB/s (accept to verified, fsynced and in place), file hash ${t.file_hash.slice(0, 16)}… verified`
        : `state ${t.state}: ${t.error?.message ?? 'the received bytes differ'}`,
    },
    report: { transfer_mb_per_s: Math.round(mbps * 10) / 10, transfer_file_hash: t.file_hash },
  }
}
