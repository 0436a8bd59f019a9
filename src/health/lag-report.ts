/** What the checks lost to a busy event loop over one window. */
export interface CheckLag {
  /** Check results whose probe started more than the tolerance after its slot. */
  late: number;
  maxLatenessMs: number;
  /** Slots left out because a late run stood for them. */
  skipped: number;
  windowMs: number;
}

/**
 * Sums lateness over windows of at least `windowMs` and hands out one summary per window that
 * had any, so a loop that falls behind is logged once every few seconds, not once per check.
 */
export class LagReport {
  readonly #windowMs: number;
  readonly #toleranceMs: number;
  #since: number | undefined;
  #late = 0;
  #max = 0;
  #skipped = 0;

  constructor(options: { windowMs: number; toleranceMs: number }) {
    this.#windowMs = options.windowMs;
    this.#toleranceMs = options.toleranceMs;
  }

  /** Records one check result; returns the window's summary when the window is over and had lag. */
  note(now: number, latenessMs: number, skipped: number): CheckLag | undefined {
    this.#since ??= now;
    if (latenessMs > this.#toleranceMs) {
      this.#late++;
      if (latenessMs > this.#max) this.#max = latenessMs;
    }
    this.#skipped += skipped;
    const windowMs = now - this.#since;
    if (windowMs < this.#windowMs) return undefined;
    const lag = this.#late > 0 || this.#skipped > 0 ? { late: this.#late, maxLatenessMs: this.#max, skipped: this.#skipped, windowMs } : undefined;
    this.#since = now;
    this.#late = this.#max = this.#skipped = 0;
    return lag;
  }
}
