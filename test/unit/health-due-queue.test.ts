import { describe, expect, it } from 'vitest';
import { DueQueue } from '../../src/health/due-queue.js';

describe('DueQueue', () => {
  it('pops only what is due, earliest first, ties in insertion order', () => {
    const q = new DueQueue<string>();
    const times = [50, 10, 30, 10, 70, 20, 30, 5];
    times.forEach((t, i) => q.push(t, `${t}#${i}`));
    expect(q.size).toBe(8);
    expect(q.peekAt()).toBe(5);
    expect(q.popDue(4)).toBeUndefined();
    const out: string[] = [];
    for (let e = q.popDue(30); e !== undefined; e = q.popDue(30)) out.push(e.value);
    expect(out).toEqual(['5#7', '10#1', '10#3', '20#5', '30#2', '30#6']);
    expect(q.peekAt()).toBe(50);
    expect(q.size).toBe(2);
  });

  it('stays ordered under many random pushes and pops', () => {
    const q = new DueQueue<number>();
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 1000;
    const drains: number[][] = [];
    const drain = (now: number) => {
      const out: number[] = [];
      for (let e = q.popDue(now); e !== undefined; e = q.popDue(now)) out.push(e.at);
      drains.push(out);
      // nothing due is left behind
      expect(q.peekAt() === undefined || q.peekAt()! > now).toBe(true);
    };
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) {
        const t = rand() + round * 100;
        q.push(t, t);
      }
      drain(round * 100 + 200);
    }
    drain(Infinity);
    for (const d of drains) for (let i = 1; i < d.length; i++) expect(d[i]!).toBeGreaterThanOrEqual(d[i - 1]!);
    expect(drains.flat()).toHaveLength(1000);
    expect(q.size).toBe(0);
  });
});
