/** What one probe (TCP connect, HTTP GET, script, ...) reports back to the scheduler. */
export interface ProbeResult {
  ok: boolean;
  /** Why, in words an operator reads in logs and `ipvsctl status`. */
  reason: string;
  durationMs: number;
  /** The server actively refused (RST, ICMP unreachable): enough for `fastFail`. Timeouts are not hard. */
  hard?: boolean;
  /** Dynamic weight adjustment (MISC_CHECK misc_dynamic, FILE_CHECK) added to the configured weight. */
  weightAdjust?: number;
}
