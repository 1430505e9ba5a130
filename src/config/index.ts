// Administrator policy: config file, environment and flags, with sources,
// locks and a redacted view for printing. See docs/ADMIN.md.
export * from './constants.js'
export { type DescribedConfig, describeConfig, formatConfigLines } from './describe.js'
export {
  CONFIG_FLAG_OPTIONS,
  CONFIG_KEYS,
  type Config,
  type ConfigKey,
  KEY_SPECS,
  type KeySpec,
  type RelayConfig,
  type Source,
} from './keys.js'
export { type ProxyEndpoint, type ProxyProtocol, parseProxyUrl, redactProxyUrl } from './proxy.js'
export {
  defaultSystemConfigFile,
  type ResolvedConfig,
  type ResolveOptions,
  resolveConfig,
} from './resolve.js'
