import { type ChildProcess, spawn } from 'node:child_process'
import { FRAME_SAMPLES_MAX, SAMPLE_RATE_HZ } from '../media/index.js'
import { ParleyError } from '../util/errors.js'

// Where a call's audio comes from and goes to: a WAV file's samples, a
// recording, silence, or the sound card through sox (`rec`/`play`).

export interface AudioSource {
  /** Fills `frame`; false once the source has ended (the frame is then silence). */
  read(frame: Int16Array): boolean
  close(): void
}

export interface AudioSink {
  write(frame: Int16Array): void
  close(): void
}

export class SamplesSource implements AudioSource {
  private at = 0
  constructor(private readonly samples: Int16Array) {}
  read(frame: Int16Array): boolean {
    const n = Math.max(0, Math.min(frame.length, this.samples.length - this.at))
    for (let i = 0; i < n; i++) frame[i] = this.samples[this.at + i]!
    frame.fill(0, n)
    this.at += frame.length
    return n > 0
  }
  close(): void {}
}

export class SilenceSource implements AudioSource {
  read(frame: Int16Array): boolean {
    frame.fill(0)
    return true
  }
  close(): void {}
}

/** Keeps what it hears, in 1 s chunks allocated as it grows (not on every tick). */
export class RecordingSink implements AudioSink {
  private readonly chunks: Int16Array[] = []
  private at = SAMPLE_RATE_HZ
  private length = 0
  /** Caps the recording (samples); what comes after is dropped. */
  constructor(private readonly samples_max: number) {}
  write(frame: Int16Array): void {
    for (let i = 0; i < frame.length && this.length < this.samples_max; i++) {
      if (this.at === SAMPLE_RATE_HZ) {
        this.chunks.push(new Int16Array(SAMPLE_RATE_HZ))
        this.at = 0
      }
      this.chunks[this.chunks.length - 1]![this.at++] = frame[i]!
      this.length++
    }
  }
  samples(): Int16Array {
    const out = new Int16Array(this.length)
    this.chunks.forEach((c, i) => {
      out.set(
        c.subarray(0, Math.min(SAMPLE_RATE_HZ, this.length - i * SAMPLE_RATE_HZ)),
        i * SAMPLE_RATE_HZ,
      )
    })
    return out
  }
  close(): void {}
}

export class NullSink implements AudioSink {
  write(): void {}
  close(): void {}
}

const SOX_RAW = [
  '-q',
  '-t',
  'raw',
  '-r',
  String(SAMPLE_RATE_HZ),
  '-e',
  'signed',
  '-b',
  '16',
  '-c',
  '1',
]
/** Microphone audio kept ahead of the tick: 200 ms; older audio is dropped to bound delay. */
const LIVE_BUFFER_SAMPLES = SAMPLE_RATE_HZ / 5

/** The microphone through sox's `rec`; spawn errors surface through `failed`. */
export class SoxSource implements AudioSource {
  private readonly child: ChildProcess
  private readonly ring = new Int16Array(LIVE_BUFFER_SAMPLES + FRAME_SAMPLES_MAX)
  private length = 0
  private odd: number | null = null
  constructor(onError: (err: ParleyError) => void) {
    this.child = spawn('rec', [...SOX_RAW, '-'], { stdio: ['ignore', 'pipe', 'ignore'] })
    this.child.on('error', (err) => onError(noSox(err)))
    this.child.stdout!.on('data', (d: Buffer) => this.push(d))
  }
  private push(d: Buffer): void {
    let i = 0
    if (this.odd !== null && d.length > 0) {
      this.append((((d[0]! << 8) | this.odd) << 16) >> 16)
      this.odd = null
      i = 1
    }
    for (; i + 1 < d.length; i += 2) this.append(d.readInt16LE(i))
    if (i < d.length) this.odd = d[i]!
  }
  private append(s: number): void {
    if (this.length === this.ring.length) {
      this.ring.copyWithin(0, 1)
      this.length--
    }
    this.ring[this.length++] = s
  }
  read(frame: Int16Array): boolean {
    const n = Math.min(frame.length, this.length)
    for (let i = 0; i < n; i++) frame[i] = this.ring[i]!
    frame.fill(0, n)
    this.ring.copyWithin(0, n, this.length)
    this.length -= n
    return true
  }
  close(): void {
    this.child.kill('SIGTERM')
  }
}

/** The speaker through sox's `play`. */
export class SoxSink implements AudioSink {
  private readonly child: ChildProcess
  private readonly bytes = Buffer.alloc(FRAME_SAMPLES_MAX * 2)
  constructor(onError: (err: ParleyError) => void) {
    this.child = spawn('play', [...SOX_RAW, '-'], { stdio: ['pipe', 'ignore', 'ignore'] })
    this.child.on('error', (err) => onError(noSox(err)))
    this.child.stdin!.on('error', () => {})
  }
  write(frame: Int16Array): void {
    for (let i = 0; i < frame.length; i++) this.bytes.writeInt16LE(frame[i]!, 2 * i)
    // Copy: the pipe may hold the buffer past this tick.
    this.child.stdin!.write(Buffer.from(this.bytes.subarray(0, frame.length * 2)))
  }
  close(): void {
    this.child.stdin!.end()
    this.child.kill('SIGTERM')
  }
}

function noSox(err: Error): ParleyError {
  return new ParleyError(
    'NO_AUDIO_DEVICE',
    `live audio needs sox's \`rec\` and \`play\` on PATH (${err.message}); install sox (apt-get install sox) or use --play F.wav / --record F.wav`,
  )
}
