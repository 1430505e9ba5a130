// What a person sees of a transfer: its view (the API's and the CLI's
// TransferView), and its progress — recent (time, bytes) samples for the
// rate and ETA, and progress events throttled to PROGRESS_EVENT_MS.

import type { Clock, TimerHandle } from '../util/clock.js'
import { PROGRESS_EVENT_MS } from './constants.js'
import { folderOf } from './names.js'
import type { TransferRecord } from './store.js'

export interface TransferView {
  id: string
  direction: 'in' | 'out'
  peer: string
  name: string
  size: number
  bytes_done: number
  state: string
  file_hash: string
  /** Sender: the file sent; receiver: where it was saved (null until then). */
  path: string | null
  rate_bytes_per_s: number
  eta_s: number | null
  link: string | null
  error: { code: string; message: string } | null
  created_at_ms: number
  finished_at_ms: number | null
  /** A file of a folder (§8.5): the top folder's name (`name` is then its relative path); else null. */
  folder: string | null
  /** Sender: the folder send it belongs to (`folders` of GET /v1/transfers); else null. */
  folder_id: string | null
}

/** Samples at most this often, and this many of them: the rate is over the last ~3 s. */
const SAMPLE_MS = 200
const SAMPLES_MAX = 16

export class Progress {
  private readonly samples: { t_ms: number; bytes: number }[] = []
  private lastEvent_ms = 0
  private timer: TimerHandle | null = null

  constructor(
    private readonly clock: Clock,
    /** Announces the transfer's current view. */
    private readonly announce: () => void,
  ) {}

  /** Records `bytes` done; announces now (`now`, a state change) or within PROGRESS_EVENT_MS. */
  update(bytes: number, now: boolean): void {
    const t = this.clock.now()
    const last = this.samples.at(-1)
    if (last === undefined || t - last.t_ms >= SAMPLE_MS) {
      this.samples.push({ t_ms: t, bytes })
      if (this.samples.length > SAMPLES_MAX) this.samples.shift()
    }
    if (!now && t - this.lastEvent_ms < PROGRESS_EVENT_MS) {
      this.timer ??= this.clock.setTimeout(() => {
        this.timer = null
        this.lastEvent_ms = this.clock.now()
        this.announce()
      }, PROGRESS_EVENT_MS)
      return
    }
    this.lastEvent_ms = t
    this.announce()
  }

  /** Bytes per second over the recent samples. */
  rate(bytes: number): number {
    const first = this.samples[0]
    const t = this.clock.now()
    return first !== undefined && t - first.t_ms > 0
      ? ((bytes - first.bytes) * 1000) / (t - first.t_ms)
      : 0
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
  }
}

export function transferView(
  r: TransferRecord,
  bytes: number,
  progress: Progress,
  link: string | null,
): TransferView {
  const running = r.state === 'sending' || r.state === 'receiving'
  const rate = running ? progress.rate(bytes) : 0
  return {
    id: r.id,
    direction: r.direction,
    peer: r.peer,
    name: r.name,
    size: r.size,
    bytes_done: bytes,
    state: r.state,
    file_hash: r.file_hash,
    path: r.direction === 'out' ? (r.source_path ?? null) : (r.final_path ?? null),
    rate_bytes_per_s: Math.round(rate),
    eta_s: running && rate > 0 ? Math.ceil((r.size - bytes) / rate) : null,
    link,
    error: r.error,
    created_at_ms: r.created_at_ms,
    finished_at_ms: r.finished_at_ms,
    folder: folderOf(r.name),
    folder_id: r.folder_id ?? null,
  }
}
