// Media limits and defaults. The wire values are specified in docs/PROTOCOL.md §10.

/** Opus runs at 48 kHz mono; media timestamps count these samples (§10.2). */
export const SAMPLE_RATE_HZ = 48_000
export const SAMPLES_PER_MS = SAMPLE_RATE_HZ / 1000
/** Frame durations Opus allows that we send (10–60 ms); 20 ms by default. */
export const FRAME_MS_DEFAULT = 20
export const FRAME_MS_ALLOWED: readonly number[] = [10, 20, 40, 60]
export const FRAME_SAMPLES_MAX = 60 * SAMPLES_PER_MS

/** §10.2: media packet header version and size. */
export const MEDIA_VERSION = 1
export const MEDIA_HEADER_BYTES = 10
export const MEDIA_FLAG_TALK_START = 0x01
export const MEDIA_FLAG_QUIET = 0x02
/** §10.2: at most this many earlier frames ride along as redundancy (RED). */
export const REDUNDANCY_DEPTH_MAX = 2
/** §10.2: one Opus frame at our highest bitrate (64 kbit/s × 60 ms = 480 B) fits. */
export const OPUS_PAYLOAD_BYTES_MAX = 500
/** §10.2: a whole media packet (header, redundancy, primary) never exceeds this. */
export const MEDIA_PACKET_BYTES_MAX = 1200

/** Opus codec lookahead at 48 kHz in the VoIP application (libopus: 2.5 ms CELT + 4 ms SILK). */
export const CODEC_LOOKAHEAD_MS = 6.5

/** Bitrate ladder of the adaptive controller (bit/s), lowest first. */
export const BITRATE_LADDER_BPS: readonly number[] = [12_000, 16_000, 24_000, 32_000]
export const BITRATE_BPS_MAX = 64_000
export const BITRATE_BPS_MIN = 6_000

/** Jitter buffer bounds (§10.4). */
export const JITTER_SLOTS = 64
export const JITTER_DELAY_MS_MIN = 0
export const JITTER_DELAY_MS_MAX = 200
/** Percentile of relative arrival delay the target follows (NetEq uses the 97th; we use 95th). */
export const JITTER_PERCENTILE = 0.95
/** Arrivals kept for the delay percentile and the transit baseline (≈ 2.5 s at 20 ms). */
export const JITTER_WINDOW_PACKETS = 128
/** A silence in arrivals this long starts a new spurt: statistics restart (hold, path change). */
export const JITTER_RESET_GAP_MS = 500

/** Energy under which the sender flags a frame quiet (RMS of 16-bit samples, ≈ −50 dBFS). */
export const QUIET_RMS = 100
