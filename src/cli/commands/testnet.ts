import { parseHostPortList, startTestnet } from '../../net/index.js'
import { ParleyError } from '../../util/errors.js'
import type { Output } from '../output.js'
import { parsePort } from './daemon.js'

export const TESTNET_NODES_MAX = 64

export async function cmdTestnet(
  flags: { host?: string; port?: string; nodes?: string; bootstrap?: string },
  out: Output,
): Promise<void> {
  const nodes = flags.nodes === undefined ? 3 : Number(flags.nodes)
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > TESTNET_NODES_MAX) {
    throw new ParleyError('USAGE', `--nodes must be an integer from 1 to ${TESTNET_NODES_MAX}`)
  }
  let bootstrap: ReturnType<typeof parseHostPortList> | undefined
  try {
    bootstrap = flags.bootstrap === undefined ? undefined : parseHostPortList(flags.bootstrap)
  } catch (err) {
    throw new ParleyError('USAGE', `--bootstrap: ${(err as Error).message}`)
  }
  const testnet = await startTestnet({
    host: flags.host ?? '127.0.0.1',
    port: parsePort(flags.port, '--port', 0),
    nodes,
    bootstrap,
  })
  const first = testnet.nodes[0]!.address()
  const address = `${flags.host ?? '127.0.0.1'}:${first.port}`
  out.result(
    {
      bootstrap: address,
      nodes: testnet.nodes.map((n) => `${flags.host ?? '127.0.0.1'}:${n.address().port}`),
    },
    address,
  )
  out.info(
    `private DHT with ${nodes} node(s) running; daemons join with --bootstrap ${address}; Ctrl-C stops it`,
  )
  await new Promise<void>((resolve) => {
    const stop = () => testnet.destroy().then(resolve, resolve)
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}
