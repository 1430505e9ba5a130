import type { FlowDriver } from './flows.js'

/** One relay under test: its process (whose CPU is measured) and the flows through it. */
export interface RelaySide {
  name: string
  pid: number
  driver: FlowDriver
  /** A line saying how the flows were carried (and that no cap cut them). */
  describe(): Promise<string>
  close(): Promise<void>
}

/** The same caps are given to both relays, so both pay for their accounting. */
export interface RelayCapsArgs {
  sessions_max: number
  session_bytes_per_s_max: number
  total_bytes_per_s_max: number
}
