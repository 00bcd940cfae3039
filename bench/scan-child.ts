// One cold certs-bot scan of a config in a fresh process, for peak RSS:
// `node --import tsx bench/scan-child.ts <clusters.yaml>` prints one JSON line.
import { loadConfig } from "../src/config/load.js";
import { defaultDependencies, scanClusters } from "../src/adapters/nodes/scan.js";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: scan-child.ts <clusters.yaml>\n");
  process.exit(2);
}
const config = loadConfig(file);
const rssBeforeKiB = process.resourceUsage().maxRSS;
const started = performance.now();
const report = await scanClusters(config, config.clusters, defaultDependencies());
const ms = performance.now() - started;
const nodes = report.clusters.flatMap((c) => c.nodes);
const unreachable = nodes.filter((n) => !n.reachable);
process.stdout.write(
  `${JSON.stringify({
    nodes: nodes.length,
    certificates: nodes.reduce((sum, n) => sum + n.certificates.length, 0),
    unreachable: unreachable.length,
    firstError: unreachable[0]?.error,
    ms,
    rssBeforeKiB,
    maxRssKiB: process.resourceUsage().maxRSS,
  })}\n`,
);
