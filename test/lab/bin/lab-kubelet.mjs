// Lab kubelet, one per lab node (`node lab-kubelet.mjs ROOT`, started by the lab systemctl or by
// test/lab/control-plane.ts): every 100 ms it syncs the static pods with etc/kubernetes/manifests/.
// A manifest present and its component not running: start it (new ids; for kube-apiserver a new
// lab-apiserver.mjs process, which loads apiserver.crt once, at start). A manifest gone: stop it.
// A component whose process died (crictl rmp, docker stop, a crash): started again. Like the real
// kubelet, stopping this process leaves the containers running. Under lab/fail/no-stop a removed
// manifest is ignored (its containers keep running), and under lab/fail/no-restart a stopped
// apiserver is not started again.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { setInterval } from "node:timers";
import { fileURLToPath } from "node:url";

const root = process.argv[2];
if (!root) throw new Error("usage: lab-kubelet.mjs ROOT");
const lab = join(root, "lab");
const run = join(lab, "run");
const manifests = join(root, "etc/kubernetes/manifests");
const here = dirname(fileURLToPath(import.meta.url));
mkdirSync(join(lab, "log"), { recursive: true });
mkdirSync(run, { recursive: true });
writeFileSync(join(run, "kubelet.pid"), `${process.pid}\n`);

const read = (path) => {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
};
const alive = (pid) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // Reaped between the two checks (no stat) or a zombie not yet reaped: gone either way.
  const stat = read(`/proc/${pid}/stat`);
  return stat !== "" && !/^\d+ \(.*\) Z/.test(stat);
};
const newId = () => randomBytes(32).toString("hex");

function startApiserver() {
  const log = openSync(join(lab, "log/kube-apiserver.log"), "a");
  const child = spawn(process.execPath, [join(here, "lab-apiserver.mjs"), root], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  child.unref();
  writeFileSync(join(run, "kube-apiserver.pid"), `${child.pid}\n`);
  writeFileSync(join(run, "kube-apiserver.id"), `${newId()}\n`);
}

/**
 * A container that ends is not forgotten: like dockershim's exited containers it can still be
 * stopped (a no-op), so `docker ps | xargs docker stop` racing a restart does not fail.
 */
function retire(idFile) {
  const id = read(idFile);
  if (id) writeFileSync(join(run, "exited"), `${id}\n`, { flag: "a" });
  rmSync(idFile, { force: true });
}

function sync() {
  const components = read(join(lab, "components")).split(/\s+/).filter(Boolean);
  const neverStop = existsSync(join(lab, "fail/no-stop"));
  for (const c of components) {
    const present = existsSync(join(manifests, `${c}.yaml`));
    const idFile = join(run, `${c}.id`);
    let running = read(idFile) !== "";
    if (c === "kube-apiserver") {
      const pidFile = join(run, "kube-apiserver.pid");
      const pid = Number(read(pidFile));
      if (running && !alive(pid)) {
        retire(idFile);
        rmSync(pidFile, { force: true });
        running = false;
      }
      if (!present && running && !neverStop) process.kill(pid, "SIGTERM");
      if (present && !running && !existsSync(join(lab, "fail/no-restart"))) startApiserver();
    } else if (!present && running && !neverStop) {
      retire(idFile);
    } else if (present && !running) {
      writeFileSync(idFile, `${newId()}\n`);
    }
  }
}

process.on("SIGTERM", () => process.exit(0));
sync();
setInterval(sync, 100);
