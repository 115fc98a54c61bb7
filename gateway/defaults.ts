// Defaults of the gateway's own bounds, apart so the CLI can show them without
// loading the gateway (the TFTP server has its own, TFTP_DEFAULTS).
export const GATEWAY_DEFAULTS = {
  fetchTimeoutMs: 10_000,
  maxHttpConnections: 1024,
} as const;
