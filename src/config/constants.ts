// Defaults and limits of the administrator's switches (docs/ADMIN.md).
// The relay caps are starting points for one supernode core; the supernode
// module enforces them, this module only validates and reports them.

/** hyperdht's default UDP port, the `ListenPort` an administrator opens (src/net/constants.ts). */
export const DHT_PORT_DEFAULT = 49737
/**
 * The port docs/ADMIN.md recommends for a supernode's TCP gateway (443 passes
 * most firewalls). Not a default: the gateway is opt-in, no port opens by surprise.
 */
export const GATEWAY_PORT_RECOMMENDED = 443

// Relay caps default to what the supernode enforces (src/supernode/constants.ts says why).
export {
  RELAY_SESSION_BYTES_PER_S_MAX as RELAY_SESSION_BYTES_PER_S_MAX_DEFAULT,
  RELAY_SESSIONS_MAX as RELAY_SESSIONS_MAX_DEFAULT,
  RELAY_TOTAL_BYTES_PER_S_MAX as RELAY_TOTAL_BYTES_PER_S_MAX_DEFAULT,
} from '../supernode/constants.js'

/** Upper bounds that only catch nonsense (a misplaced digit), not real deployments. */
export const RELAY_SESSIONS_MAX_LIMIT = 1_000_000
export const BYTES_PER_S_LIMIT = 100_000_000_000

/** The per-user file inside the home directory. */
export const USER_CONFIG_FILE = 'config.json'
/** Machine-wide policy on POSIX systems; Windows uses %ProgramData%\parley\config.json. */
export const SYSTEM_CONFIG_FILE_POSIX = '/etc/parley/config.json'
/** A config file is a few hundred bytes; anything this big is not one. */
export const CONFIG_FILE_BYTES_MAX = 64 * 1024
/** Bound on bootstrap nodes from configuration (hyperdht ships three). */
export const BOOTSTRAP_NODES_MAX = 64

/** Every configuration variable starts with this. */
export const ENV_PREFIX = 'PARLEY_'
/**
 * PARLEY_* variables that are not configuration: read elsewhere, or by the
 * tests. Anything else under the prefix that is close to a configuration
 * variable is a typo and an error; the rest are reported as warnings.
 */
export const ENV_NOT_CONFIG = [
  'PARLEY_HOME',
  'PARLEY_PASSPHRASE',
  'PARLEY_DEBUG',
  'PARLEY_SEED',
  'PARLEY_SIM_SEED',
  'PARLEY_SIM_SEEDS',
  'PARLEY_TEST_SEED',
  'PARLEY_TEST_FORCE_RELAY',
  'PARLEY_TEST_GATEWAY_TAP',
  'PARLEY_TEST_GATEWAY_DROP_TUNNELS',
  'PARLEY_AWAY_AFTER_MS',
  'PARLEY_CHAOS_SEED',
  'PARLEY_TEST_CORRUPT_CHUNKS',
  'PARLEY_TEST_DIRECTORY_TAMPER',
] as const
/** An unknown variable this close (edits) to a known one is treated as a typo. */
export const TYPO_DISTANCE_MAX = 2
