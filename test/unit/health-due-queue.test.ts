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

  it('moves and removes an entry it keeps, leaving the order of the rest', () => {
    const q = new DueQueue<string>();
    const a = q.push(10, 'a');
    const b = q.push(20, 'b');
    const c = q.push(30, 'c');
    q.set(a, 25);
    expect(q.size).toBe(3);
    q.remove(b);
    q.remove(b);
    expect(q.size).toBe(2);
    const d = q.entry('d');
    expect(d.index).toBe(-1);
    q.set(d, 25);
    q.set(c, 5);
    const out: string[] = [];
    for (let e = q.popDue(Infinity); e !== undefined; e = q.popDue(Infinity)) {
      expect(e.index).toBe(-1);
      out.push(`${e.value}@${e.at}`);
    }
    // a moved to 25 before d was queued at 25, so a leaves first
    expect(out).toEqual(['c@5', 'a@25', 'd@25']);
    q.set(a, 1);
    expect(q.peekAt()).toBe(1);
  });

  it('keeps the heap ordered under random moves and removals', () => {
    const q = new DueQueue<number>();
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const entries = Array.from({ length: 200 }, (_, i) => q.push(rand(1000), i));
    const removed = new Set<number>();
    for (let k = 0; k < 2000; k++) {
      const e = entries[rand(entries.length)]!;
      if (rand(4) === 0) {
        q.remove(e);
        removed.add(e.value);
      } else {
        q.set(e, rand(1000));
        removed.delete(e.value);
      }
    }
    const out: number[] = [];
    for (let e = q.popDue(Infinity); e !== undefined; e = q.popDue(Infinity)) out.push(e.at);
    expect(out).toHaveLength(200 - removed.size);
    for (let i = 1; i < out.length; i++) expect(out[i]!).toBeGreaterThanOrEqual(out[i - 1]!);
  });
});
