// Lab kube-apiserver (`node lab-apiserver.mjs ROOT`, started by the lab kubelet): a TLS server on
// the node's address and port serving the apiserver.crt it read at start, answering /readyz,
// /healthz and /livez. It never re-reads the file: only a restart serves a renewed certificate.
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { join } from "node:path";
import process from "node:process";

const root = process.argv[2];
if (!root) throw new Error("usage: lab-apiserver.mjs ROOT");
const lab = (name) => readFileSync(join(root, "lab", name), "utf8").trim();
const pki = join(root, "etc/kubernetes/pki");
const server = createServer(
  { cert: readFileSync(join(pki, "apiserver.crt")), key: readFileSync(join(pki, "apiserver.key")) },
  (req, res) => {
    if (req.method === "GET" && ["/readyz", "/healthz", "/livez"].includes(req.url ?? "")) {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    } else {
      res.writeHead(404).end();
    }
  },
);
server.on("error", (err) => {
  process.stderr.write(`lab-apiserver: ${err.message}\n`);
  process.exit(1);
});
server.listen(Number(lab("port")), lab("address"));
process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close();
  process.exit(0);
});
