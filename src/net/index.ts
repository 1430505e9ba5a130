export * from './constants.js'
export { GatewayNetwork, type GatewayNetworkOptions } from './gateway-client.js'
export {
  dedupe,
  type HostPort,
  loadHostCache,
  parseHostPortList,
  saveHostCache,
} from './hostcache.js'
export { type DeviceAddress, NetworkNode, type NetworkNodeOptions } from './node.js'
export { dialTcp, type ProxySpec } from './proxy-dial.js'
export { classifyReachability, type Reachability } from './reachability.js'
export { secureStream } from './secure.js'
export { startTestnet, type Testnet } from './testnet.js'
