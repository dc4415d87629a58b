// Deterministic randomness for the seed: same seed and keys → same numbers on every machine.
// Math.random and the clock are never used, so two seeds of the same size produce identical tables.

/** xmur3 string hash → 32-bit words, used to derive independent streams from (seed, keys…). */
function xmur3(str: string): () => number {
  let h = 1779033703 ^ str.length;
  for (let i = 0; i < str.length; i++) {
    h = Math.imul(h ^ str.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  return () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^= h >>> 16) >>> 0;
  };
}

/** 32-bit hash of the keys, for cheap per-item derived values (e.g. a visitor's synthetic IP). */
export function hash32(...keys: (string | number)[]): number {
  return xmur3(keys.join(':'))();
}

/** sfc32: small, fast, passes PractRand; one instance per (seed, site, day) stream. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...keys: (string | number)[]) {
    const h = xmur3(keys.join(':'));
    this.a = h();
    this.b = h();
    this.c = h();
    this.d = h();
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Exponential with the given mean. */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** Sampling from fixed weights by binary search over the cumulative distribution. */
export class Weighted<T> {
  private readonly cdf: Float64Array;
  constructor(
    readonly items: readonly T[],
    weights: readonly number[],
  ) {
    if (items.length === 0 || items.length !== weights.length) throw new Error('Weighted: items and weights must match');
    this.cdf = new Float64Array(items.length);
    let sum = 0;
    for (let i = 0; i < weights.length; i++) this.cdf[i] = sum += weights[i]!;
    for (let i = 0; i < this.cdf.length; i++) this.cdf[i]! /= sum;
  }

  index(rng: Rng): number {
    const u = rng.next();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  sample(rng: Rng): T {
    return this.items[this.index(rng)]!;
  }
}

/** Zipf(s) over ranks 1..n: rank 1 is the most popular. */
export function zipfWeights(n: number, s: number): number[] {
  const w: number[] = [];
  for (let k = 1; k <= n; k++) w.push(1 / k ** s);
  return w;
}
