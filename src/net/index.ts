export * from './constants.js'
export {
  dedupe,
  type HostPort,
  loadHostCache,
  parseHostPortList,
  saveHostCache,
} from './hostcache.js'
export { type DeviceAddress, NetworkNode, type NetworkNodeOptions } from './node.js'
export { classifyReachability, type Reachability } from './reachability.js'
export { startTestnet, type Testnet } from './testnet.js'
