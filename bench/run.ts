// `npm run bench -- <name>…` runs the named benchmarks (all when none given).
// Each prints its numbers beside the peer it must beat, as medians and ratios.
import { benchCall } from './call.js'
import { benchChat } from './chat.js'
import { benchConnect } from './connect.js'
import { benchReachability } from './reachability.js'
import { benchRelay } from './relay.js'
import { benchTransfer } from './transfer.js'

const BENCHES: Record<string, () => Promise<void>> = {
  connect: benchConnect,
  relay: benchRelay,
  reachability: benchReachability,
  call: benchCall,
  chat: benchChat,
  transfer: benchTransfer,
}

const names = process.argv.slice(2)
const chosen = names.length === 0 ? Object.keys(BENCHES) : names
for (const name of chosen) {
  const bench = BENCHES[name]
  if (bench === undefined) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHES).join(', ')}`)
    process.exit(2)
  }
}
for (const name of chosen) {
  console.log(`\n=== bench: ${name} ===`)
  await BENCHES[name]!()
}
process.exit(0)
