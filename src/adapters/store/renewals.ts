// Renewal requests in Redis, under the same prefix as everything else:
//   <p>:renewal:<request id>      hash { json: RenewalRequest, version: n,          TTL 90 d, refreshed per write
//                                        plan: the RenewalPlan shown for approval (what runs),
//                                        card: { channel, ts } of the approval card }
//   <p>:renewal-lock:<cluster>    id of the cluster's one active request           TTL 90 d backstop
//   <p>:policy-filed:<cluster>    hash { <node>/<cert>@<serial>: id of the request a policy filed for it }
//                                                                                  TTL 400 d, refreshed per filing
//
// A request a policy files names the certificate generations it is for: `create` refuses it
// ('filed') when every one of them was filed for already, and records them with the request in the
// same script, so one certificate gets one request across scans, retries and processes.
// One active request per cluster: `create` takes the lock with SET NX together with writing the
// request (one Lua script), and every write that ends a request (rejected, expired, done, failed)
// deletes the lock in the same script, if it still names that request (cancelled too). A lock whose holder is gone,
// has ended, or is pending past its expiry is stale and taken over (a due request is expired first),
// so a crash between steps never blocks a cluster for the 90-day backstop. Who may take the cluster
// is core/renew/admission.ts, the same rule as the console's records.
//
// Every change is a compare-and-set on `version` (a Lua script: load, decide in TypeScript, save only
// if the version is unchanged, else reload and decide again). WATCH/MULTI is not used because it
// belongs to a connection, and the service shares one connection between concurrent clicks. So two
// clicks never both count, and exactly one of them sees `startRun: true`.
//
// Nothing secret is stored: user ids, cluster/node/certificate names, times and a rejection reason.
import type { Redis } from "ioredis";
import { redisKey } from "./store.js";
import type { RenewalPlan } from "../../core/renew/plan.js";
import type { CardLocation, CreateOptions, CreateResult } from "../../core/renew/ports.js";
import { admission, heldBy } from "../../core/renew/admission.js";
import {
  beginNode,
  decide,
  expire,
  finish,
  isEnded,
  markRunning,
  withdraw,
  type DecideContext,
  type DecideResult,
  type RenewalRequest,
  type ResolvedClick,
} from "../../core/renew/approval.js";

const DAY_S = 86_400;
export const REQUEST_TTL_S = 90 * DAY_S;
/** A backstop only: the lock is deleted when its request ends, and taken over when stale. */
export const LOCK_TTL_S = 90 * DAY_S;
/** Longer than a certificate lives (a year), so a generation is never filed for twice. */
export const FILINGS_TTL_S = 400 * DAY_S;
/** Compare-and-set rounds before giving up (each lost round means another writer succeeded). */
const MAX_ATTEMPTS = 100;

const DATE_KEYS = new Set(["requestedAt", "expiresAt", "at", "startedAt", "endedAt", "nodeStartedAt"]);

const PLAN_DATE_KEYS = new Set(["createdAt", "renewedUntil", "expiresAt", "notAfter"]);

const reviving =
  (keys: ReadonlySet<string>) =>
  (key: string, value: unknown): unknown =>
    keys.has(key) && typeof value === "string" ? new Date(value) : value;

const parse = (text: string): RenewalRequest => JSON.parse(text, reviving(DATE_KEYS)) as RenewalRequest;
const parsePlan = (text: string): RenewalPlan => JSON.parse(text, reviving(PLAN_DATE_KEYS)) as RenewalPlan;

// KEYS: lock, request, policy filings. ARGV: id, json, request ttl, lock ttl, plan json, filings ttl,
// generations… (none: not filed by a policy).
const CREATE = `
if redis.call('EXISTS', KEYS[2]) == 1 then return {'exists'} end
if #ARGV > 6 then
  local fresh = false
  for i = 7, #ARGV do
    if redis.call('HEXISTS', KEYS[3], ARGV[i]) == 0 then fresh = true end
  end
  if not fresh then return {'filed'} end
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[4]) then
  redis.call('HSET', KEYS[2], 'json', ARGV[2], 'version', 1, 'plan', ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  for i = 7, #ARGV do redis.call('HSET', KEYS[3], ARGV[i], ARGV[1]) end
  if #ARGV > 6 then redis.call('EXPIRE', KEYS[3], ARGV[6]) end
  return {'ok'}
end
return {'held', redis.call('GET', KEYS[1])}`;

// KEYS: request, lock. ARGV: expected version, json, ttl, release ('1'|'0'), id.
const CAS = `
local v = redis.call('HGET', KEYS[1], 'version')
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', tonumber(v) + 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[4] == '1' and redis.call('GET', KEYS[2]) == ARGV[5] then redis.call('DEL', KEYS[2]) end
return 1`;

// KEYS: policy filings. ARGV: id. Forgets the generations filed for that request.
const FORGET = `
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[1] then redis.call('HDEL', KEYS[1], all[i]) end
end
return 1`;

// KEYS: lock. ARGV: id. Deletes the lock only if it still names that request.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** One change: what to save (nothing when `next` is absent) and what to answer. */
interface Change<T> {
  next?: RenewalRequest;
  value: T;
}

export class RenewalStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  key(...parts: string[]): string {
    return redisKey(this.prefix, ...parts);
  }

  private requestKey(id: string): string {
    return this.key("renewal", id);
  }

  private lockKey(cluster: string): string {
    return this.key("renewal-lock", cluster);
  }

  /**
   * Saves a new request with the plan it was made from, unless another request of its cluster is
   * pending, approved or running. `now` (default: the request time) decides whether a pending
   * holder is past its expiry.
   */
  async create(
    request: RenewalRequest,
    { plan, now = request.requestedAt, generations = [] }: CreateOptions = {},
  ): Promise<CreateResult> {
    const expired: RenewalRequest[] = [];
    const lock = this.lockKey(request.cluster);
    for (let attempt = 0; attempt < 5; attempt++) {
      const reply = (await this.redis.eval(
        CREATE,
        3,
        lock,
        this.requestKey(request.id),
        this.filingsKey(request.cluster),
        request.id,
        JSON.stringify(request),
        REQUEST_TTL_S,
        LOCK_TTL_S,
        plan ? JSON.stringify(plan) : "",
        FILINGS_TTL_S,
        ...generations,
      )) as [string, string | null];
      if (reply[0] === "ok") return { ok: true, request, expired };
      if (reply[0] === "exists") return { ok: false, expired };
      if (reply[0] === "filed") return { ok: false, filed: true, expired };
      const holderId = reply[1];
      const admit = admission(holderId ? await this.get(holderId) : null, now);
      if (admit.verdict === "held") return heldBy(admit.holder, expired);
      if (admit.verdict === "expire") {
        const done = await this.expire(admit.holder.id, now);
        if (done?.state === "expired") expired.push(done);
      } else if (holderId) {
        await this.redis.eval(RELEASE, 1, lock, holderId); // stale: its request is gone or over
      }
      // Free again (or the lock vanished between the two reads): try again.
    }
    throw new Error(`could not take the renewal lock of ${request.cluster}: too much contention`);
  }

  /** The certificate generations a policy filed a request for, each with that request's id. */
  async filings(cluster: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(this.filingsKey(cluster))));
  }

  private filingsKey(cluster: string): string {
    return this.key("policy-filed", cluster);
  }

  async get(id: string): Promise<RenewalRequest | null> {
    const text = await this.redis.hget(this.requestKey(id), "json");
    return text ? parse(text) : null;
  }

  /** The plan the request was approved on: what its run executes. */
  async loadPlan(id: string): Promise<RenewalPlan | null> {
    const text = await this.redis.hget(this.requestKey(id), "plan");
    return text ? parsePlan(text) : null;
  }

  /** Remembers where the approval card was posted (only while the request exists). */
  async setCard(id: string, card: CardLocation): Promise<void> {
    const key = this.requestKey(id);
    if (await this.redis.exists(key)) await this.redis.hset(key, "card", JSON.stringify(card));
  }

  async card(id: string): Promise<CardLocation | null> {
    const text = await this.redis.hget(this.requestKey(id), "card");
    return text ? (JSON.parse(text) as CardLocation) : null;
  }

  /** The cluster's active request (pending, approved or running), if any. */
  async active(cluster: string): Promise<RenewalRequest | null> {
    const id = await this.redis.get(this.lockKey(cluster));
    const request = id ? await this.get(id) : null;
    return request && !isEnded(request) ? request : null;
  }

  /**
   * Loads the request, lets `change` decide, and saves its `next` only if nobody wrote the request
   * in between (else reloads and decides again). Null when the request does not exist.
   */
  private async update<T>(id: string, change: (current: RenewalRequest) => Change<T>): Promise<T | null> {
    const key = this.requestKey(id);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const [text, version] = await this.redis.hmget(key, "json", "version");
      if (!text || !version) return null;
      const current = parse(text);
      const { next, value } = change(current);
      if (!next) return value;
      const saved = await this.redis.eval(
        CAS,
        2,
        key,
        this.lockKey(current.cluster),
        version,
        JSON.stringify(next),
        REQUEST_TTL_S,
        isEnded(next) ? "1" : "0",
        id,
      );
      if (saved === 1) return value;
    }
    throw new Error(`request ${id}: gave up after ${MAX_ATTEMPTS} conflicting writes`);
  }

  /**
   * One Approve or Reject click, atomically: of any number of concurrent clicks each counts once,
   * and exactly one gets `startRun: true`. A refusal that found the request expired saves that.
   */
  async applyClick(id: string, click: ResolvedClick, ctx: DecideContext): Promise<DecideResult> {
    const result = await this.update<DecideResult>(id, (current) => {
      const decision = decide(current, click, ctx);
      return decision.request ? { next: decision.request, value: decision } : { value: decision };
    });
    return result ?? { ok: false, reason: "this renewal request no longer exists; request a new renewal." };
  }

  /** Marks a pending request past its expiry as expired (and frees the cluster). Null: no such request. */
  async expire(id: string, now: Date): Promise<RenewalRequest | null> {
    return this.update(id, (current) => {
      const next = expire(current, now);
      return next ? { next, value: next } : { value: current };
    });
  }

  async withdraw(id: string, reason: string, now: Date): Promise<RenewalRequest | null> {
    const withdrawn = await this.update(id, (current) => {
      const next = withdraw(current, reason, now);
      return next ? { next, value: next } : { value: null };
    });
    if (withdrawn?.policy) await this.redis.eval(FORGET, 1, this.filingsKey(withdrawn.cluster), id);
    return withdrawn;
  }

  /** approved → running when the run's job starts; null when the request is not approved/running. */
  async markRunning(id: string, now: Date): Promise<RenewalRequest | null> {
    return this.update(id, (current) => {
      const next = markRunning(current, now);
      return next && next !== current ? { next, value: next } : { value: next };
    });
  }

  /** Records that the run starts a node; null when the request is not running (cancelled). */
  async beginNode(id: string, now: Date): Promise<RenewalRequest | null> {
    return this.update(id, (current) => {
      const next = beginNode(current, now);
      return next && next !== current ? { next, value: next } : { value: next };
    });
  }

  /** running → done | failed (frees the cluster); null when the request was not approved/running. */
  async finish(id: string, ok: boolean, now: Date, outcome?: string): Promise<RenewalRequest | null> {
    return this.update(id, (current) => {
      const next = finish(current, ok, now, outcome);
      return next ? { next, value: next } : { value: null };
    });
  }
}
