// The kernel's address events in the guest's root namespace, as `ip monitor address` prints
// them, each stamped with Date.now() on arrival: when a VIP left and came back, to the ms.
import { spawnIn } from './netns.js';
import { OutputLines } from './lvs-topology.js';

export interface AddressEvent {
  at: number;
  action: 'added' | 'deleted';
  line: string;
}

export class AddressEvents {
  readonly events: AddressEvent[] = [];
  readonly #output: OutputLines;

  constructor() {
    // -o: one line per event; ip flushes after each, so the stamp is the event's time within ms.
    const child = spawnIn(undefined, ['ip', '-o', 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.#output = new OutputLines(child);
    child.stdout!.on('data', () => {
      for (const line of this.#output.lines.splice(0)) {
        this.events.push({ at: Date.now(), action: line.startsWith('Deleted') ? 'deleted' : 'added', line });
      }
    });
  }

  /** Resolves with the first `count` events about `address` at or after `from`, once `ip monitor` has reported them. */
  async waitFor(address: string, from: number, count: number, timeoutMs: number): Promise<AddressEvent[]> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const events = this.of(address, from);
      if (events.length >= count) return events.slice(0, count);
      if (performance.now() > deadline) throw new Error(`${count} events about ${address} expected, got ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The events about `address` (as `10.99.0.100/`) at or after `from`. */
  of(address: string, from = 0): AddressEvent[] {
    return this.events.filter((e) => e.at >= from && e.line.includes(` ${address}/`));
  }
}
