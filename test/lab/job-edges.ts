// The edges of a service job in its tests: the shared Redis, with a Store under a fresh key prefix
// for each test, and a SlackPoster on the fake Slack Web API. `close` drops every key they wrote.
import { SlackPoster, webClient } from "../../src/adapters/slack/poster.js";
import { connectRedis } from "../../src/adapters/store/redis.js";
import { Store } from "../../src/adapters/store/store.js";
import { startFakeSlack, type FakeSlack, type FakeSlackOptions } from "./fake-slack.js";
import { dropKeys } from "./redis.js";

const REDIS_URL = "redis://127.0.0.1:6379";

export interface JobEdges {
  fake: FakeSlack;
  /** A Store of its own, and a poster on the fake that remembers its posts in that Store. */
  slack(): { store: Store; poster: SlackPoster };
  close(): Promise<void>;
}

export async function startJobEdges(name: string, options: FakeSlackOptions = {}): Promise<JobEdges> {
  const redis = connectRedis(REDIS_URL);
  const fake = await startFakeSlack(options);
  const prefixes: string[] = [];
  return {
    fake,
    slack() {
      const store = new Store(redis, `${name}-${process.pid}-${prefixes.length + 1}`);
      prefixes.push(store.prefix);
      return { store, poster: new SlackPoster(webClient({ token: "xoxb-test", apiUrl: fake.url }), store) };
    },
    async close() {
      await fake.close();
      for (const prefix of prefixes) await dropKeys(REDIS_URL, prefix);
      await redis.quit();
    },
  };
}
