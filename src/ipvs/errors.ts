// Kernel answers turned into sentences an operator can act on.
import { NetlinkError } from '../netlink/errors.js';

export class IpvsUnavailableError extends Error {
  readonly code = 'EIPVSUNAVAILABLE';
  constructor(detail: string) {
    super(
      `IPVS is not available: ${detail} (load it with "modprobe ip_vs", or run on a kernel with CONFIG_IP_VS)`,
    );
  }
}

export class IpvsPermissionError extends Error {
  readonly code = 'EPERM';
  constructor() {
    super('permission denied: programming IPVS needs CAP_NET_ADMIN (run ipvsd as root)');
  }
}

/** A kernel refusal of one IPVS operation, naming the operation. */
export class IpvsError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly kernelMessage: string | undefined;

  constructor(operation: string, cause: NetlinkError) {
    super(`${operation}: ${meaning(cause)}`);
    this.errno = cause.errno;
    this.code = cause.code;
    this.kernelMessage = cause.kernelMessage;
  }
}

// What ip_vs_ctl.c means by each errno it returns.
function meaning(e: NetlinkError): string {
  const kernel = e.kernelMessage ? ` (kernel: ${e.kernelMessage})` : '';
  switch (e.code) {
    case 'EEXIST':
      return `already exists${kernel}`;
    case 'ESRCH':
      return `no such service${kernel}`;
    case 'ENOENT':
      return `not found: no such destination, or the scheduler or persistence engine module is missing${kernel}`;
    case 'EINVAL':
      return `invalid argument${kernel}`;
    case 'EPERM':
      return 'permission denied (needs CAP_NET_ADMIN)';
    case 'ERANGE':
      return `value out of range${kernel}`;
    case 'EBUSY':
      return `busy${kernel}`;
    default:
      return `${e.message}`;
  }
}
