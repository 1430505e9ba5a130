import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

// Where a node keeps its keystore, token, host cache and (later) its database:
// --home, else $PARLEY_HOME, else the XDG data directory.
export function resolveHome(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (flag !== undefined && flag !== '') return resolve(flag)
  if (env.PARLEY_HOME) return resolve(env.PARLEY_HOME)
  const xdg =
    env.XDG_DATA_HOME && env.XDG_DATA_HOME !== ''
      ? env.XDG_DATA_HOME
      : join(homedir(), '.local', 'share')
  return join(xdg, 'parley')
}

export const HOST_CACHE_FILE = 'host-cache.json'
