import { CALL_ID_BYTES, EPHEMERAL_KEY_BYTES } from './constants.js'

// The signals of docs/PROTOCOL.md §10.6: one type byte, fixed fields.

export const SignalType = {
  Invite: 1,
  Ringing: 2,
  Accept: 3,
  Reject: 4,
  Cancel: 5,
  Hangup: 6,
  Hold: 7,
  Resume: 8,
  Mute: 9,
} as const

export const RejectReason = { Declined: 1, Busy: 2, NoAnswer: 3 } as const
export const HangupReason = { Normal: 0, MediaTimeout: 1, Failed: 2 } as const

export type Signal =
  | { type: 'invite'; call_id: Buffer; ephemeral: Buffer; frame_units: number; flags: number }
  | { type: 'ringing'; call_id: Buffer }
  | { type: 'accept'; call_id: Buffer; ephemeral: Buffer }
  | { type: 'reject'; call_id: Buffer; reason: number }
  | { type: 'cancel'; call_id: Buffer }
  | { type: 'hangup'; call_id: Buffer; reason: number }
  | { type: 'hold'; call_id: Buffer }
  | { type: 'resume'; call_id: Buffer }
  | { type: 'mute'; call_id: Buffer; muted: boolean }

const TYPE_BY_NAME: Record<Signal['type'], number> = {
  invite: SignalType.Invite,
  ringing: SignalType.Ringing,
  accept: SignalType.Accept,
  reject: SignalType.Reject,
  cancel: SignalType.Cancel,
  hangup: SignalType.Hangup,
  hold: SignalType.Hold,
  resume: SignalType.Resume,
  mute: SignalType.Mute,
}

/** Bytes after type and call_id, by type. */
const EXTRA: Record<number, number> = {
  [SignalType.Invite]: EPHEMERAL_KEY_BYTES + 2,
  [SignalType.Ringing]: 0,
  [SignalType.Accept]: EPHEMERAL_KEY_BYTES,
  [SignalType.Reject]: 1,
  [SignalType.Cancel]: 0,
  [SignalType.Hangup]: 1,
  [SignalType.Hold]: 0,
  [SignalType.Resume]: 0,
  [SignalType.Mute]: 1,
}

export function encodeSignal(s: Signal): Buffer {
  const type = TYPE_BY_NAME[s.type]
  const b = Buffer.alloc(1 + CALL_ID_BYTES + EXTRA[type]!)
  b[0] = type
  s.call_id.copy(b, 1)
  const at = 1 + CALL_ID_BYTES
  switch (s.type) {
    case 'invite':
      s.ephemeral.copy(b, at)
      b[at + EPHEMERAL_KEY_BYTES] = s.frame_units
      b[at + EPHEMERAL_KEY_BYTES + 1] = s.flags
      break
    case 'accept':
      s.ephemeral.copy(b, at)
      break
    case 'reject':
    case 'hangup':
      b[at] = s.reason
      break
    case 'mute':
      b[at] = s.muted ? 1 : 0
      break
  }
  return b
}

/** Decodes a signal; null for anything malformed (the caller counts it). */
export function decodeSignal(b: Uint8Array): Signal | null {
  if (b.length < 1 + CALL_ID_BYTES) return null
  const type = b[0]!
  const extra = EXTRA[type]
  if (extra === undefined || b.length !== 1 + CALL_ID_BYTES + extra) return null
  const call_id = Buffer.from(b.subarray(1, 1 + CALL_ID_BYTES))
  const at = 1 + CALL_ID_BYTES
  switch (type) {
    case SignalType.Invite:
      return {
        type: 'invite',
        call_id,
        ephemeral: Buffer.from(b.subarray(at, at + EPHEMERAL_KEY_BYTES)),
        frame_units: b[at + EPHEMERAL_KEY_BYTES]!,
        flags: b[at + EPHEMERAL_KEY_BYTES + 1]!,
      }
    case SignalType.Ringing:
      return { type: 'ringing', call_id }
    case SignalType.Accept:
      return { type: 'accept', call_id, ephemeral: Buffer.from(b.subarray(at)) }
    case SignalType.Reject:
      return { type: 'reject', call_id, reason: b[at]! }
    case SignalType.Cancel:
      return { type: 'cancel', call_id }
    case SignalType.Hangup:
      return { type: 'hangup', call_id, reason: b[at]! }
    case SignalType.Hold:
      return { type: 'hold', call_id }
    case SignalType.Resume:
      return { type: 'resume', call_id }
    default:
      return b[at]! > 1 ? null : { type: 'mute', call_id, muted: b[at] === 1 }
  }
}
