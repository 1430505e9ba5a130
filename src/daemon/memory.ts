import { setFlagsFromString } from 'node:v8'

/**
 * Stops V8's young generation from growing past the size start-up left it
 * (4 MiB per semi-space with Node 20 here; by default it grows to 16 MiB).
 *
 * Why: each chunk a transfer receives arrives in a fresh 256 KiB buffer
 * (secret-stream allocates one per message), and that memory is returned
 * only when V8 collects the buffer's small handle in the young generation.
 * A larger young generation is collected less often, so more dead chunk
 * buffers are resident at once. Receiving 512 MiB, the daemon's RSS peaked
 * at 137–142 MB without this and 109–122 MB with it, at the same
 * throughput within run-to-run noise.
 *
 * It changes a process-wide V8 setting, so only processes Parley owns call
 * it (`parley daemon`, the benchmarks' peers), never code an app embeds.
 */
export function capYoungGeneration(): void {
  setFlagsFromString('--semi-space-growth-factor=1')
}
