// A YAML alias bomb ("billion laughs"): nine levels of nine aliases each, 9^9 "lol"s if expanded.
// The first nested alias (`*b` inside `c`) is at line 3, column 8.
export const ALIAS_BOMB = [
  'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
  ..."bcdefghi".split("").map((x, i) => `${x}: &${x} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(", ")}]`),
  "clusters: *i",
  "",
].join("\n");
