import { startFakeSlack } from "./test/lab/fake-slack.ts";
import { loadConfig } from "./src/config/load.ts";
import { Service } from "./src/service.ts";
import { pino } from "pino";
import { readFileSync, writeFileSync } from "node:fs";
const fake = await startFakeSlack();
const cfgText = readFileSync(".lab/demo/clusters.yaml", "utf8")
  .replace("clusters:", "slack: { digestChannel: C0DIGEST }\nclusters:")
  .replace("  - name: lab-a\n", "  - name: lab-a\n    channel: C0LABAAA\n");
writeFileSync("/tmp/svc.yaml", cfgText);
const config = loadConfig("/tmp/svc.yaml");
const logger = pino({ level: "warn" });
const svc = new Service({
  role: "serve",
  config,
  redisUrl: "redis://127.0.0.1:6379",
  prefix: "cbscratch-" + process.pid,
  slack: { token: "xoxb-test", apiUrl: fake.url },
  logger,
  graceMs: 2000,
});
await svc.start();
await svc.queue.scan.add("scan-all", {});
await new Promise((r) => setTimeout(r, 6000));
for (const m of fake.messages()) console.log(m.channel, m.thread_ts ?? "-", m.text.slice(0, 150));
await svc.queue.digest.add("digest", {}, { jobId: "manual1" });
await new Promise((r) => setTimeout(r, 3000));
for (const m of fake.messages("C0DIGEST")) console.log(JSON.stringify(m).slice(0, 1500));
console.log(
  fake.calls.filter((c) => !c.response.ok).map((c) => [c.method, c.response.error, c.response.errors]),
);
await svc.queue.scan.obliterate({ force: true });
await svc.queue.digest.obliterate({ force: true });
await svc.stop();
await fake.close();
