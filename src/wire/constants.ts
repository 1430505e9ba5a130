// Constants of the Parley wire protocol. Every value here is part of the
// specification in docs/PROTOCOL.md (section numbers cited): a peer built from
// that document alone must agree on each of them, so changing one is a
// protocol change, not a tuning decision. Implementation-only limits live in
// the constants file of the layer that enforces them.

/** §5.2: highest protocol version this implementation speaks. */
export const PROTOCOL_VERSION = 1
/** §5.2: lowest protocol version this implementation speaks. */
export const PROTOCOL_VERSION_MIN = 1

/** §5.1: protomux protocol name of the control channel (channel id: none). */
export const CONTROL_PROTOCOL = 'parley/control'

/** §5.6: a control frame (type byte + body) longer than this is dropped unparsed. */
export const CONTROL_FRAME_BYTES_MAX = 4096
/** §5.1: longest `agent` string in a Hello, in UTF-8 bytes. */
export const AGENT_BYTES_MAX = 64
/** §5.5: longest `reason` string in a GOODBYE, in UTF-8 bytes. */
export const GOODBYE_REASON_BYTES_MAX = 256
/**
 * §2.4: largest value of every Parley `uint` field unless its section says
 * otherwise. 32 bits so that every language holds it in a native integer and
 * JavaScript never loses precision.
 */
export const UINT_FIELD_MAX = 0xffff_ffff

/** §5.1: Hello flag bit 0 — the sender serves as a supernode. Other bits are reserved. */
export const HELLO_FLAG_SUPERNODE = 0x1
/**
 * §5.1: Hello flag bit 1 — the sender is a gateway: it announces identities of
 * UDP-less clients under its own device key, so a dialler that finds it under
 * another identity's topic opens a tunnel (§5.11) instead of hanging up.
 */
export const HELLO_FLAG_GATEWAY = 0x2

/** §5.11: protomux protocol of a gateway tunnel; the channel id is a tunnel id. */
export const TUNNEL_PROTOCOL = 'parley/tunnel/1'
/** §5.11: first byte of a tunnel id (its layout version). */
export const TUNNEL_ID_KIND = 0x01
/** §5.11: the opener's random nonce in a tunnel id. */
export const TUNNEL_NONCE_BYTES = 8
/** §5.11: kind byte + 32-byte target identity + nonce. */
export const TUNNEL_ID_BYTES = 1 + 32 + TUNNEL_NONCE_BYTES

/** §5.4: control frame type bytes. */
export const CONTROL_TYPE_PING = 0x01
export const CONTROL_TYPE_PONG = 0x02
export const CONTROL_TYPE_GOODBYE = 0x03

/** §4.1: domain separation for the identity topic, hashed with a 0x00 separator before the key. */
export const IDENTITY_TOPIC_CONTEXT = 'parley/identity/v1'
/** §4.1: the topic is a BLAKE2b-256 digest. */
export const IDENTITY_TOPIC_BYTES = 32

/** §4.4: the well-known topic every supernode announces under is BLAKE2b-256 of this ascii string. */
export const SUPERNODE_TOPIC_CONTEXT = 'parley/supernodes/v1'

/** §4.2: a device re-announces itself at least this often (hyperdht forgets after 20 minutes). */
export const ANNOUNCE_REFRESH_MS = 600_000

/** §5.7: a peer that has received no control frame for this long sends a PING. */
export const PING_INTERVAL_MS = 20_000
/** §5.7: a session that has received no frame for this long is dead. */
export const SESSION_IDLE_TIMEOUT_MS = 60_000
/**
 * §5.7: while a session's path goes through someone else (a relay or a
 * gateway, which may die), PING after this long without a control frame…
 */
export const PING_INTERVAL_INDIRECT_MS = 1_000
/** §5.7: …and consider the session dead after this long without one (failover ≤ 5 s). */
export const SESSION_IDLE_TIMEOUT_INDIRECT_MS = 4_000

/** §5.9: reconnect delay doubles from MIN to MAX, each delay jittered by ±RECONNECT_JITTER_RATIO. */
export const RECONNECT_BACKOFF_MS_MIN = 1_000
export const RECONNECT_BACKOFF_MS_MAX = 60_000
export const RECONNECT_JITTER_RATIO = 0.2
