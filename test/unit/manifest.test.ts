// The Slack app manifest is part of the product: it must parse, declare /certs, Socket Mode, the
// App Home tab and interactivity, and request every scope the code's Web API calls need, no more.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const manifest = parse(readFileSync("config/slack-app-manifest.yaml", "utf8"));

/** Web API methods the code calls, and the bot scope each needs (none: works with any bot token). */
const SCOPE_OF: Record<string, string[]> = {
  "chat.postMessage": ["chat:write"],
  "chat.postEphemeral": ["chat:write"],
  "chat.update": ["chat:write"],
  "usergroups.users.list": ["usergroups:read"],
  "conversations.members": ["channels:read", "groups:read"],
  "views.publish": [],
  "auth.test": [],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

test("declares /certs with a usage hint, Socket Mode, App Home and interactivity", () => {
  const [certs] = manifest.features.slash_commands;
  assert.equal(certs.command, "/certs");
  assert.match(certs.usage_hint, /status <cluster>/);
  assert.equal(manifest.features.app_home.home_tab_enabled, true);
  assert.equal(manifest.features.bot_user.display_name, "certs-bot");
  assert.equal(manifest.settings.socket_mode_enabled, true);
  assert.equal(manifest.settings.interactivity.is_enabled, true);
  assert.deepEqual(manifest.settings.event_subscriptions.bot_events, ["app_home_opened"]);
});

test("requests exactly the scopes the code's Web API calls need", () => {
  const code = sources("src")
    .map((f) => readFileSync(f, "utf8"))
    .join("\n");
  const called = Object.keys(SCOPE_OF).filter(
    (method) => code.includes(method) || code.includes(method.replace(/\.(\w)/g, ".$1")),
  );
  const needed = new Set(["commands", ...called.flatMap((m) => SCOPE_OF[m]!)]);
  // chat.postMessage is called as client.chat.postMessage: always needed.
  needed.add("chat:write");
  assert.deepEqual([...manifest.oauth_config.scopes.bot].sort(), [...needed].sort());
});
