// The receiver report of docs/PROTOCOL.md §10.5 (plaintext of envelope kind 2).

export const REPORT_BYTES = 23
export const REPORT_VERSION = 1

export interface Report {
  sent_ms: number
  echo_ms: number
  hold_ms: number
  loss_permille: number
  jitter_ms: number
  buffer_ms: number
  packets_received: number
}

export function encodeReport(r: Report): Buffer {
  const b = Buffer.alloc(REPORT_BYTES)
  b[0] = REPORT_VERSION
  b.writeUInt32BE(r.sent_ms >>> 0, 1)
  b.writeUInt32BE(r.echo_ms >>> 0, 5)
  b.writeUInt32BE(r.hold_ms >>> 0, 9)
  b.writeUInt16BE(Math.min(1000, r.loss_permille), 13)
  b.writeUInt16BE(Math.min(0xffff, r.jitter_ms), 15)
  b.writeUInt16BE(Math.min(0xffff, r.buffer_ms), 17)
  b.writeUInt32BE(r.packets_received >>> 0, 19)
  return b
}

export function decodeReport(b: Uint8Array): Report | null {
  if (b.length !== REPORT_BYTES || b[0] !== REPORT_VERSION) return null
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  const loss_permille = v.readUInt16BE(13)
  if (loss_permille > 1000) return null
  return {
    sent_ms: v.readUInt32BE(1),
    echo_ms: v.readUInt32BE(5),
    hold_ms: v.readUInt32BE(9),
    loss_permille,
    jitter_ms: v.readUInt16BE(15),
    buffer_ms: v.readUInt16BE(17),
    packets_received: v.readUInt32BE(19),
  }
}
