import { resolve } from 'node:path'
import { ApiClient } from '../../api/index.js'
import type { FolderView, TransferView } from '../../transfer/index.js'
import { ParleyError } from '../../util/errors.js'
import { resolveContact } from '../contact.js'
import type { Output } from '../output.js'

const POLL_MS = 250
const TERMINAL = new Set(['completed', 'declined', 'cancelled', 'failed'])

export async function cmdSendFile(
  home: string,
  args: string[],
  flags: { detach?: boolean },
  out: Output,
): Promise<void> {
  if (args.length !== 2) {
    throw new ParleyError('USAGE', 'usage: parley send-file CONTACT PATH [--detach]')
  }
  const to = await resolveContact(home, args[0]!)
  const client = await ApiClient.fromHome(home)
  const sent = await client.request<TransferView | FolderView>('POST', '/v1/transfers/send', {
    to,
    path: resolve(args[1]!),
  })
  if ('kind' in sent) {
    await sendFolder(client, sent, flags, out)
    return
  }
  const t = sent
  if (flags.detach) {
    out.result(t, `offered ${t.name} (${formatBytes(t.size)}) as transfer ${t.id.slice(0, 8)}`)
    return
  }
  await follow(client, t, out)
}

export async function cmdTransfers(
  home: string,
  args: string[],
  flags: { to?: string; detach?: boolean; folder?: boolean },
  out: Output,
): Promise<void> {
  const [sub, id, ...rest] = args
  const client = await ApiClient.fromHome(home)
  if (sub === undefined || sub === 'list') {
    const { transfers, folders = [] } = await client.request<{
      transfers: TransferView[]
      folders?: FolderView[]
    }>('GET', '/v1/transfers')
    const lines = [...folders.map(folderLine), ...transfers.map(line)]
    out.result({ transfers, folders }, lines.length === 0 ? 'no transfers' : lines.join('\n'))
    return
  }
  if (!['accept', 'decline', 'cancel'].includes(sub) || id === undefined || rest.length > 0) {
    throw new ParleyError(
      'USAGE',
      'usage: parley transfers [list] | accept ID [--to DIR] [--detach] | decline ID | cancel ID',
    )
  }
  const body: Record<string, string> = { id }
  if (sub === 'accept' && flags.to !== undefined) body.to = resolve(flags.to)
  if (sub === 'accept' && flags.folder === true) (body as Record<string, unknown>).folder = true
  const t = await client.request<TransferView>('POST', `/v1/transfers/${sub}`, body)
  if ('kind' in t) {
    out.result(t, folderLine(t as unknown as FolderView))
    return
  }
  if (flags.folder === true && !flags.detach) {
    out.result(
      t,
      `accepted the folder ${t.folder} into ${flags.to ?? 'the download folder'}: ${line(t)}`,
    )
    return
  }
  if (sub !== 'accept' || flags.detach) {
    out.result(t, line(t))
    return
  }
  await follow(client, t, out)
}

/** Shows progress until the transfer ends; a refusal or failure becomes the command's error. */
async function follow(client: ApiClient, first: TransferView, out: Output): Promise<void> {
  const tty = !out.json && process.stderr.isTTY === true
  let t = first
  let lastState = ''
  const started_ms = Date.now()
  for (;;) {
    if (t.state !== lastState) {
      if (tty && lastState !== '') process.stderr.write('\n')
      const note = stateNote(t)
      if (note !== null && !out.json) out.info(note)
      lastState = t.state
    }
    if (tty && (t.state === 'sending' || t.state === 'receiving')) {
      process.stderr.write(`\r${progressBar(t)}\x1b[K`)
    }
    if (TERMINAL.has(t.state)) break
    await new Promise((r) => setTimeout(r, POLL_MS))
    const { transfers } = await client.request<{ transfers: TransferView[] }>(
      'GET',
      '/v1/transfers',
    )
    const now = transfers.find((x) => x.id === first.id)
    if (now === undefined)
      throw new ParleyError('TRANSFER_NOT_FOUND', 'the daemon forgot the transfer')
    t = now
  }
  if (t.state !== 'completed') {
    const e = t.error ?? { code: 'TRANSFER_FAILED', message: t.state }
    throw new ParleyError(e.code as never, `${t.name}: ${e.message}`)
  }
  const seconds = (Date.now() - started_ms) / 1000
  const verb = t.direction === 'out' ? 'sent' : `saved to ${t.path}`
  out.result(
    t,
    `${t.name} ${verb}: ${formatBytes(t.size)} in ${seconds.toFixed(1)} s; verified, file hash ${t.file_hash}`,
  )
}

/** A folder send: lists what was skipped, then shows the whole folder's progress until it ends. */
async function sendFolder(
  client: ApiClient,
  first: FolderView,
  flags: { detach?: boolean },
  out: Output,
): Promise<void> {
  if (!out.json) {
    for (const s of first.skipped) out.info(`skipped ${first.name}/${s.path}: ${s.reason}`)
    if (first.skipped_count > first.skipped.length)
      out.info(`… and ${first.skipped_count - first.skipped.length} more skipped`)
  }
  const summary = `folder ${first.name}: ${first.files} files, ${formatBytes(first.size)}`
  if (flags.detach) {
    out.result(first, `offered ${summary} as folder ${first.id.slice(0, 8)}`)
    return
  }
  if (!out.json) {
    out.info(
      `sending ${summary} to ${first.peer.slice(0, 12)}… (folder ${first.id.slice(0, 8)}; Ctrl-C leaves it running, \`parley transfers\` shows it)`,
    )
  }
  const tty = !out.json && process.stderr.isTTY === true
  const started_ms = Date.now()
  let f = first
  while (f.state === 'sending') {
    if (tty) process.stderr.write(`\r${progressBar(f)} ${f.files_done}/${f.files} files\x1b[K`)
    await new Promise((r) => setTimeout(r, POLL_MS))
    const { folders = [] } = await client.request<{ folders?: FolderView[] }>(
      'GET',
      '/v1/transfers',
    )
    const now = folders.find((x) => x.id === first.id)
    if (now === undefined)
      throw new ParleyError('TRANSFER_NOT_FOUND', 'the daemon forgot the folder')
    f = now
  }
  if (tty) process.stderr.write('\n')
  if (f.state !== 'completed') {
    const e = f.error ?? { code: 'TRANSFER_FAILED', message: f.state }
    throw new ParleyError(e.code as never, `folder ${f.name}: ${e.message}`)
  }
  const seconds = (Date.now() - started_ms) / 1000
  out.result(
    f,
    `folder ${f.name} sent: ${f.files} files, ${formatBytes(f.size)} in ${seconds.toFixed(1)} s; every file verified`,
  )
}

function folderLine(f: FolderView): string {
  const pct = f.size === 0 ? 100 : Math.floor((f.bytes_done / f.size) * 100)
  const err = f.error ? ` (${f.error.message})` : ''
  return `${f.id.slice(0, 8)}  ${f.state.padEnd(9)} ${String(pct).padStart(3)}%  ${formatBytes(f.size).padStart(9)}  to   ${f.peer.slice(0, 12)}…  ${f.name}/ (folder: ${f.files_done}/${f.files} files)${err}`
}

function stateNote(t: TransferView): string | null {
  const short = t.id.slice(0, 8)
  switch (t.state) {
    case 'preparing':
      return `hashing ${t.name} (${formatBytes(t.size)})…`
    case 'offered':
      return t.direction === 'out'
        ? `waiting for ${t.peer.slice(0, 12)}… to accept (transfer ${short}; Ctrl-C leaves it running, \`parley transfers\` shows it)`
        : null
    case 'sending':
    case 'receiving':
      return `${t.state} ${t.name} (${formatBytes(t.size)})${t.link ? ` over a ${t.link} path` : ''}`
    default:
      return null
  }
}

export function progressBar(
  t: Pick<TransferView, 'size' | 'bytes_done' | 'eta_s' | 'rate_bytes_per_s'>,
  width = 30,
): string {
  const frac = t.size === 0 ? 1 : t.bytes_done / t.size
  const filled = Math.round(frac * width)
  const eta = t.eta_s === null ? '--:--' : formatDuration(t.eta_s)
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(frac * 100).toFixed(1).padStart(5)}% ${formatBytes(t.rate_bytes_per_s)}/s ETA ${eta}`
}

function line(t: TransferView): string {
  const pct = t.size === 0 ? 100 : Math.floor((t.bytes_done / t.size) * 100)
  const dir = t.direction === 'out' ? 'to  ' : 'from'
  const err = t.error ? ` (${t.error.message})` : ''
  return `${t.id.slice(0, 8)}  ${t.state.padEnd(9)} ${String(pct).padStart(3)}%  ${formatBytes(t.size).padStart(9)}  ${dir} ${t.peer.slice(0, 12)}…  ${t.name}${err}`
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`
}

function formatDuration(s: number): string {
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = Math.floor(s % 60)
  const mm = String(m).padStart(2, '0')
  const ss = String(sec).padStart(2, '0')
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`
}
