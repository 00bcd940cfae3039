// The Slack surface: a Bolt app for `/certs`, App Home and the buttons (Scan now, Request renewal,
// Approve, Reject, a warning's Acknowledge and Snooze), run by `certs-bot serve` next to its workers. The decisions are the router's
// (app/router.ts) and the button table's (app/actions.ts): this file turns Slack requests into them
// and their answers back into Slack calls.
//
// Connection (slackSurface): Socket Mode when SLACK_APP_TOKEN is set (no public URL needed), HTTP
// mode when only SLACK_SIGNING_SECRET is set (PORT, default 3000, endpoint /slack/events for
// commands, actions and events). In HTTP mode a signed `/certs` is answered by http-front.ts without
// Bolt's event pipeline, and everything else goes to Bolt, which checks signatures and timestamps.
//
// `/certs`: the reports and user groups the answer needs are fetched first (ACK_BUDGET_MS at most),
// then the first reply goes out with ack(), the rest through the command's response_url, all with
// the router's response_type. A scan to queue is queued after the ack, and its outcome answers
// through the same response_url ("in the same place"). Whatever fails, the user gets an ephemeral
// answer with an id that is in the log.
import { randomBytes } from "node:crypto";
import {
  App,
  HTTPReceiver,
  type BlockButtonAction,
  type RespondArguments,
  type RespondFn,
  type SlackActionMiddlewareArgs,
  SocketModeReceiver,
} from "@slack/bolt";
import type { Logger } from "pino";
import { findCluster, type ClusterConfig, type Config } from "../../config/load.js";
import type { ScanTicket } from "../../core/chat/backend.js";
import type { Click } from "../../core/renew/approval.js";
import { canOperate, groupsToCheck, type OperatorAction } from "../../core/access/access.js";
import type { RouterDecision } from "../../app/router.js";
import { answerRenewal, answerRenewalClick, BUTTON_ACTIONS, dispatchButton } from "../../app/actions.js";
import { decideCommand } from "../../app/router.js";
import {
  renderInternalError,
  renderRefusal,
  renderRenewalPlanning,
  renderRepliesCut,
  renderScanDone,
  renderScanFailed,
  renderScanQueued,
} from "../../present/views.js";
import type { Block, ChatReply } from "../../present/slack-types.js";
import type { MessagePoster } from "../../core/ports.js";
import { answerQuietClick, type ClickedWarning, type QuietButton } from "../../app/snooze.js";
import { withQuietNote } from "../../present/snooze.js";
import { code } from "../../present/format.js";
import type { Store } from "../store/store.js";
import { AppHome } from "./app-home.js";
import type { ServiceBackend } from "./backend.js";
import { JOB_CALLS, slackLogger, webClient, type SlackEnvironment } from "./poster.js";
import { OperatorError } from "../../config/operator-error.js";
import { HttpFront, SLACK_EVENTS_PATH, type SlashCommandCall } from "./http-front.js";

export type SlackSurface =
  | { mode: "socket"; appToken: string }
  | {
      mode: "http";
      signingSecret: string;
      port: number;
      /** Where to listen; default every interface, since Slack must reach it. */
      host?: string;
    };

export const DEFAULT_PORT = 3000;
/** Slack wants the ack within 3 s; what the answer needs must be read by then, with room to send. */
export const ACK_BUDGET_MS = 2000;
/** Slack takes five replies through one command's response_url. */
export const RESPONSE_URL_USES = 5;

/** A Slack setting the operator can fix (the CLI exits 3 with it). */
export class SlackSurfaceError extends OperatorError {}

/**
 * The Slack surface the environment asks for, or null for none (serve then runs workers and
 * schedules only). Logs every choice it makes for the operator.
 */
export function slackSurface(env: NodeJS.ProcessEnv, logger: Logger): SlackSurface | null {
  const { SLACK_APP_TOKEN: appToken, SLACK_SIGNING_SECRET: signingSecret, PORT: port } = env;
  if (appToken) {
    if (signingSecret) {
      logger.info(
        "SLACK_APP_TOKEN and SLACK_SIGNING_SECRET are both set: Socket Mode (the secret is unused)",
      );
    }
    return { mode: "socket", appToken };
  }
  if (signingSecret) {
    const number = port ? Number(port) : DEFAULT_PORT;
    if (!Number.isInteger(number) || number < 1 || number > 65_535) {
      throw new SlackSurfaceError(`PORT must be a TCP port (1-65535) for the Slack HTTP mode, not "${port}"`);
    }
    if (!port)
      logger.info({ port: number }, "Slack HTTP mode: PORT is not set, so it listens on the default");
    return { mode: "http", signingSecret, port: number };
  }
  logger.info(
    "Slack surface off: neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP mode) is set, " +
      "so /certs and App Home are not served; warnings and the digest still are",
  );
  return null;
}

export interface SlackAppOptions {
  surface: SlackSurface;
  slack: SlackEnvironment;
  config: Config;
  backend: ServiceBackend;
  store: Store;
  /** Updates a warning once it was acknowledged or snoozed from its buttons. */
  poster: Pick<MessagePoster, "update">;
  logger: Logger;
}

type ResponseType = "ephemeral" | "in_channel";

/** The message a button was clicked on, as the click's body carries it. */
interface ClickedMessage extends ClickedWarning {
  text: string;
  blocks: readonly unknown[];
}

function clickedMessage(body: SlackActionMiddlewareArgs<BlockButtonAction>["body"]): ClickedMessage | null {
  const channel = body.channel?.id ?? body.container?.channel_id;
  const message = body.message;
  if (!channel || !message?.ts) return null;
  return { channel, ts: message.ts, text: message.text ?? "", blocks: message.blocks ?? [] };
}

/** Who clicked which button, and where to answer them. */
interface ButtonClick {
  actionId: string;
  userId: string;
  respond: RespondFn;
}

/**
 * The message of each shared reply, made once: a reply rendered once and given often (help, frozen
 * by its renderer) is then the same frozen message every time, which the HTTP front serializes
 * once. A reply rendered for one answer gets a message of its own, remembered nowhere.
 */
const messages = new WeakMap<ChatReply, Partial<Record<ResponseType, RespondArguments>>>();

function message(type: ResponseType, reply: ChatReply): RespondArguments {
  // Our blocks are a structural subset of Slack's (present/slack-types.ts).
  const made = () => ({ response_type: type, replace_original: false, ...reply }) as RespondArguments;
  if (!Object.isFrozen(reply)) return made();
  let shared = messages.get(reply);
  if (!shared) messages.set(reply, (shared = {}));
  return (shared[type] ??= Object.freeze(made()));
}

/** `replies` within `uses` messages: when they do not fit, the last one says how many were cut. */
function fitReplies(replies: readonly ChatReply[], uses: number): ChatReply[] {
  if (replies.length <= uses) return [...replies];
  return [...replies.slice(0, uses - 1), renderRepliesCut(replies.length - (uses - 1))];
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export class SlackApp {
  private readonly app: App;
  private readonly home: AppHome;
  /** HTTP mode: the server on PORT, which answers `/certs` itself and hands the rest to Bolt. */
  private readonly front?: HttpFront;
  private up = false;

  constructor(private readonly options: SlackAppOptions) {
    const { surface, slack, config, backend, store, logger } = options;
    const receiver =
      surface.mode === "http"
        ? new HTTPReceiver({ signingSecret: surface.signingSecret, logger: slackLogger(logger) })
        : undefined;
    this.app = new App({
      token: slack.token,
      ...(surface.mode === "socket" ? { socketMode: true, appToken: surface.appToken } : { receiver }),
      // No retryConfig on purpose: the Socket Mode client then retries apps.connections.open its own
      // patient way, where a few quick retries would let a failed reconnect end the process.
      clientOptions: { ...(slack.apiUrl ? { slackApiUrl: slack.apiUrl } : {}), timeout: JOB_CALLS.timeoutMs },
      logger: slackLogger(logger),
      convoStore: false,
      // auth.test runs in start(), where a bad token fails the start instead of an unhandled rejection.
      deferInitialization: true,
    });
    this.home = new AppHome({ config, backend, store, client: webClient(slack, logger), logger });
    this.app.command("/certs", async (args) => this.command(args));
    if (receiver && surface.mode === "http") {
      this.front = new HttpFront({
        signingSecret: surface.signingSecret,
        command: "/certs",
        onCommand: (call) => this.command(call),
        bolt: receiver.requestListener,
        logger,
      });
    }
    this.app.event("app_home_opened", async ({ event }) => {
      if (event.tab !== "home") return;
      await this.home.opened(event.user).catch((err: Error) => this.incident(err, { user: event.user }));
    });
    for (const id of BUTTON_ACTIONS) this.app.action<BlockButtonAction>(id, (args) => this.button(args));
    this.app.error(async (err) => void this.incident(err, { where: "bolt" }));
    backend.onScanStored(
      (cluster, eventId) =>
        void this.home
          .scanStored(cluster, eventId)
          .catch((err: Error) => this.incident(err, { cluster, where: "home refresh" })),
    );
  }

  async start(): Promise<void> {
    const { surface, logger } = this.options;
    await this.app.init();
    if (this.front && surface.mode === "http") {
      // Bolt's own server is not started: the front serves PORT and hands Bolt what is Bolt's.
      await this.front.listen(surface.port, surface.host);
      logger.info({ port: surface.port, endpoint: SLACK_EVENTS_PATH }, "Slack surface: HTTP mode");
    } else {
      await this.app.start();
      logger.info("Slack surface: Socket Mode, connected");
      this.followSocket();
    }
    this.up = true;
  }

  /** Started and, in Socket Mode, connected: what /readyz reports. */
  get connected(): boolean {
    return this.up;
  }

  /** Bolt keeps its receiver private; its Socket Mode client says when the socket drops and is back. */
  private followSocket(): void {
    const { receiver } = this.app as unknown as { receiver: unknown };
    if (!(receiver instanceof SocketModeReceiver)) return;
    receiver.client.on("connected", () => (this.up = true));
    // "close": the socket dropped; the client then waits before "reconnecting".
    for (const down of ["close", "reconnecting", "disconnecting", "disconnected"]) {
      receiver.client.on(down, () => (this.up = false));
    }
  }

  async stop(): Promise<void> {
    this.up = false;
    this.home.close();
    if (this.front) await this.front.close();
    else await this.app.stop();
  }

  /** Logs `err` under a short id that the user is shown. */
  private incident(err: unknown, context: Record<string, unknown>): string {
    const incident = randomBytes(4).toString("hex");
    const error = err instanceof Error ? err : new Error(String(err));
    this.options.logger.error(
      { incident, ...context, err: error.message, stack: error.stack },
      "Slack surface error",
    );
    return incident;
  }

  /** Sends one reply through a response_url; a failure is logged, never thrown. */
  private async respond(respond: RespondFn, type: ResponseType, reply: ChatReply): Promise<void> {
    await respond(message(type, reply)).catch((err: Error) => this.incident(err, { where: "response_url" }));
  }

  /**
   * `/certs TEXT`. What reads nothing, or only scans kept in memory, is decided and acked in this very
   * turn of the event loop, with no promise on the way (a promise is returned only for what follows
   * the ack); the rest is acked once its reads are in.
   */
  private command(call: SlashCommandCall): void | Promise<void> {
    const { command } = call;
    const request = { text: command.text, userId: command.user_id, channelId: command.channel_id };
    const failed = (err: unknown) => this.failed(call, err, request);
    try {
      const decided = decideCommand(this.options.backend, this.options.config, request, new Date());
      if (!(decided instanceof Promise)) return this.reply(call, request.userId, decided, failed);
      return within(decided, ACK_BUDGET_MS, "reading reports and user groups").then(
        (decision) => this.reply(call, request.userId, decision, failed),
        failed,
      );
    } catch (err) {
      return failed(err);
    }
  }

  /** Acks with the decision's first reply; then a queued scan, a renewal and the other replies follow. */
  private reply(
    { ack, respond }: SlashCommandCall,
    userId: string,
    decision: RouterDecision,
    failed: (err: unknown) => Promise<void>,
  ): void | Promise<void> {
    const type: ResponseType = decision.ephemeral ? "ephemeral" : "in_channel";
    const [first, ...rest] = decision.reply;
    const follow = (): void | Promise<void> => {
      const { enqueueScan: scan, requestRenewal: renewal } = decision;
      if (scan) void this.followScan(scan, respond, type);
      if (renewal) void this.followRenewal(renewal, userId, respond);
      const later = fitReplies(rest, RESPONSE_URL_USES - (scan || renewal ? 1 : 0));
      if (later.length > 0) return this.respondInTurn(respond, type, later);
    };
    const acked = ack(message(type, first!));
    return acked instanceof Promise ? acked.then(follow, failed) : follow();
  }

  /** Replies through a response_url one after the other, so that they arrive in order. */
  private async respondInTurn(respond: RespondFn, type: ResponseType, replies: ChatReply[]): Promise<void> {
    for (const reply of replies) await this.respond(respond, type, reply);
  }

  /** Whatever failed before the ack: the user gets an ephemeral answer with an id that is in the log. */
  private async failed({ ack }: SlashCommandCall, err: unknown, request: object): Promise<void> {
    const answer = message("ephemeral", renderInternalError(this.incident(err, { command: request })));
    try {
      await ack(answer);
    } catch (e) {
      this.incident(e, { where: "ack" });
    }
  }

  /** The reply once a queued scan is stored, or why it is not (logged). */
  private async outcome(cluster: string, ticket: ScanTicket | Promise<ScanTicket>): Promise<ChatReply> {
    try {
      const scan = await (await ticket).done;
      return renderScanDone({ cluster, scan, now: new Date() });
    } catch (err) {
      const incident = this.incident(err, { cluster, where: "scan" });
      return renderScanFailed(cluster, `${(err as Error).message} (logged as ${incident})`);
    }
  }

  /** Queues the scan and answers with its outcome through the command's response_url. */
  private async followScan(cluster: string, respond: RespondFn, type: ResponseType): Promise<void> {
    await this.respond(respond, type, await this.outcome(cluster, this.options.backend.requestScan(cluster)));
  }

  /** Builds the plan and posts the approval card; tells the requester where it went, or why not. */
  private async followRenewal(
    renewal: NonNullable<RouterDecision["requestRenewal"]>,
    userId: string,
    respond: RespondFn,
  ): Promise<void> {
    let reply: ChatReply;
    try {
      reply = await answerRenewal(this.options.backend, this.options.config, renewal, userId);
    } catch (err) {
      reply = renderInternalError(this.incident(err, { cluster: renewal.cluster, where: "renewal request" }));
    }
    await this.respond(respond, "ephemeral", reply);
  }

  /**
   * The cluster a button names, if the clicker operates it; else the refusal to show them (`gone`
   * ends the sentence for a cluster no longer configured).
   */
  private async buttonOperator(
    value: string | undefined,
    userId: string,
    what: OperatorAction,
    gone = ".",
  ): Promise<{ ok: true; cluster: ClusterConfig } | { ok: false; refusal: ChatReply }> {
    const cluster = findCluster(this.options.config, value ?? "");
    if (!cluster) {
      const name = code(value ?? "", 80);
      return {
        ok: false,
        refusal: renderRefusal(name, `${name} is not a configured cluster (any more)${gone}`),
      };
    }
    const userGroups = await this.options.backend.groupsOf(userId, groupsToCheck(cluster.operators, userId));
    const operate = canOperate(cluster, userId, userGroups, what);
    return operate.allowed
      ? { ok: true, cluster }
      : { ok: false, refusal: renderRefusal(cluster.name, operate.reason) };
  }

  /** A button of ours (app/actions.ts): acknowledged at once, then answered by its use case. */
  private async button(args: SlackActionMiddlewareArgs<BlockButtonAction>): Promise<void> {
    await args.ack();
    const { action_id: actionId } = args.action;
    const click: ButtonClick = { actionId, userId: args.body.user.id, respond: args.respond };
    await dispatchButton(actionId, args.action.value ?? "", {
      scan: (cluster) => this.scanNow(click, cluster),
      requestRenewal: (cluster) => this.requestRenewalClick(click, cluster),
      renewalClick: (requestId, action) => this.renewalClick(click, requestId, action),
      quiet: (cluster, how) => this.quietClick(click, cluster, how, clickedMessage(args.body)),
    });
  }

  /**
   * Acknowledge or Snooze on a warning. The button is no proof: operator rights are checked here.
   * Done, the warning shows who and until when (chat.update), and the clicker is told; a refusal
   * goes to the clicker only.
   */
  private async quietClick(
    { actionId, userId, respond }: ButtonClick,
    value: string,
    how: QuietButton,
    message: ClickedMessage | null,
  ): Promise<void> {
    const { backend, config, poster } = this.options;
    try {
      const checked = await this.buttonOperator(value, userId, "snooze warnings");
      if (!checked.ok) return await this.respond(respond, "ephemeral", checked.refusal);
      if (!message) throw new Error("a warning's button clicked outside a message");
      const click = { cluster: checked.cluster, userId, how, message };
      const answer = await answerQuietClick(backend, config, click, new Date());
      if (answer.note) {
        const blocks = withQuietNote(message.blocks as Block[], answer.note);
        await poster.update({ channel: message.channel, ts: message.ts }, { text: message.text, blocks });
      }
      await this.respond(respond, "ephemeral", answer.reply);
    } catch (err) {
      const incident = this.incident(err, { user: userId, action: actionId, value });
      await this.respond(respond, "ephemeral", renderInternalError(incident));
    }
  }

  /**
   * "Request renewal" on a warning: the same as `/certs renew CLUSTER` typed in that channel. The
   * button is no proof: operator rights are checked here; answers go to the clicker only.
   */
  private async requestRenewalClick(
    { actionId, userId, respond }: ButtonClick,
    value: string,
  ): Promise<void> {
    try {
      const checked = await this.buttonOperator(value, userId, "request renewals");
      if (!checked.ok) return await this.respond(respond, "ephemeral", checked.refusal);
      const { cluster } = checked;
      await this.respond(respond, "ephemeral", renderRenewalPlanning(cluster.name));
      await this.followRenewal({ cluster: cluster.name }, userId, respond);
    } catch (err) {
      const incident = this.incident(err, { user: userId, action: actionId, value });
      await this.respond(respond, "ephemeral", renderInternalError(incident));
    }
  }

  /**
   * Approve or Reject on an approval card. The button is no proof: the desk asks Slack for the
   * clicker's user groups afresh and checks them, the request's state and its expiry atomically; a
   * refusal is shown to the clicker only.
   */
  private async renewalClick(
    { userId, respond }: ButtonClick,
    requestId: string,
    action: Click["action"],
  ): Promise<void> {
    try {
      const refusal = await answerRenewalClick(this.options.backend, requestId, { user: userId, action });
      if (refusal) await this.respond(respond, "ephemeral", refusal);
    } catch (err) {
      const incident = this.incident(err, { user: userId, action, request: requestId });
      await this.respond(respond, "ephemeral", renderInternalError(incident));
    }
  }

  /** "Scan now" in App Home. The button is no proof: operator rights are checked again here. */
  private async scanNow({ actionId, userId }: ButtonClick, value: string): Promise<void> {
    const { backend } = this.options;
    try {
      const checked = await this.buttonOperator(value, userId, "request scans", "; the view is refreshed.");
      if (!checked.ok) return await this.home.notify(userId, checked.refusal.blocks);
      const { cluster } = checked;
      const ticket = await backend.requestScan(cluster.name);
      await this.home.notify(userId, renderScanQueued(cluster.name, userId).blocks);
      await this.home.notify(userId, (await this.outcome(cluster.name, ticket)).blocks);
    } catch (err) {
      const incident = this.incident(err, { user: userId, action: actionId, value });
      await this.home
        .notify(userId, renderInternalError(incident).blocks)
        .catch((e: Error) => this.incident(e, { user: userId }));
    }
  }
}
