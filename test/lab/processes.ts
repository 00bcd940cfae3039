// The processes running on this machine (the lab's nodes are all here), found by their command
// line: how a test sees that a script left nothing behind.
import { readdirSync, readFileSync } from "node:fs";

/** "PID COMMAND LINE" of every live process whose command line contains `marker`. */
export function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let commandLine: string;
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {
      continue; // it ended while we looked
    }
    // A zombie's command line is empty: it is dead, waiting for its parent to reap it.
    if (commandLine.includes(marker)) found.push(`${pid} ${commandLine}`);
  }
  return found;
}
