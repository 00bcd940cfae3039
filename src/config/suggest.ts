// "Did you mean": the configured names closest to what someone typed (edit distance), for the CLI,
// /certs and renewal plans alike. Pure.

/** Closest configured names first, for "did you mean". */
export function suggestNames(wanted: string, names: readonly string[]): string[] {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let diagonal = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const above = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
        diagonal = above;
      }
    }
    return row[b.length]!;
  };
  return names
    .map((name) => ({ name, d: distance(wanted, name) }))
    .filter(({ name, d }) => d <= Math.max(2, Math.floor(name.length / 3)) || name.includes(wanted))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({ name }) => name);
}
