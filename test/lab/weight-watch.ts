// One virtual service's real servers and weights, sampled from /proc/net/ip_vs every 20 ms for
// as long as a test runs: a weight that flips for 100 ms between two `ipvsadm` calls shows here.
import { destinations } from './lvs-topology.js';

interface Sample {
  at: number;
  weights: ReadonlyMap<string, number> | undefined;
}

const same = (a: Sample['weights'], b: Sample['weights']) =>
  a === b || (a !== undefined && b !== undefined && a.size === b.size && [...a].every(([k, v]) => b.get(k) === v));

export class WeightWatch {
  /** The first sample, then one per change. */
  readonly #samples: Sample[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(readonly service: string, intervalMs = 20) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const weights = destinations(this.service);
    const last = this.#samples.at(-1);
    if (!last || !same(last.weights, weights)) this.#samples.push({ at: Date.now(), weights });
  }

  /**
   * A real server's weight at `from` and after each change until `to` (undefined: not in the
   * service): `[0]` means it held 0 the whole time, `[2, 0, 2]` that it went to 0 and back.
   */
  weights(realServer: string, from: number, to = Infinity): Array<number | undefined> {
    // Sampled now too: a change an ipvsadm call has already seen must be in the answer.
    this.#sample();
    const before = this.#samples.filter((s) => s.at <= from).at(-1);
    const during = this.#samples.filter((s) => s.at > from && s.at <= to);
    const values = [before, ...during].filter((s) => s !== undefined).map((s) => s.weights?.get(realServer));
    return values.filter((v, i) => i === 0 || v !== values[i - 1]);
  }

  /** The table as it changed after `from`, one `addr:port=weight ...` line per change. */
  changes(from: number, to = Infinity): string[] {
    this.#sample();
    return this.#samples
      .filter((s) => s.at > from && s.at <= to)
      .map((s) => (s.weights ? [...s.weights].map(([k, v]) => `${k}=${v}`).sort().join(' ') : 'no service'));
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
