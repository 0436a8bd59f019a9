/** The daemon could not start; `message` is the one sentence for the operator, `details` any lines before it. */
export class DaemonStartError extends Error {
  constructor(
    readonly code: 'ECONFIG' | 'EIPVSUNAVAILABLE' | 'EPERM' | 'EIPVS' | 'EVRRP',
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'DaemonStartError';
  }
}
