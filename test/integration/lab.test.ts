// Proves the test lab itself: real kubeadm-like trees, real sshd + sudo, a real TLS apiserver.
// Everything else in the integration suite trusts these pieces.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect } from "node:tls";
import { parse } from "yaml";
import { CATALOGUE } from "../../src/core/kubeadm/catalogue.js";
import { startApiserver } from "../lab/apiserver.js";
import { freePort, labAddress } from "../lab/ports.js";
import { ensureLabUsers, startSshd, writeKnownHosts, type LabSshd, type LabUsers } from "../lab/sshd.js";
import { newClusterPki, writeLabNode, type ClusterPki, type LabNode } from "../lab/tree.js";
import { until } from "../lab/wait.js";

const needsRoot = { skip: process.getuid?.() !== 0 && "needs root" };
const expired = { notBefore: new Date("2023-01-01T00:00:00Z"), notAfter: new Date("2024-01-01T00:00:00Z") };

// 0755: the non-root lab users must traverse it to reach sshd's authorized_keys and the node trees.
const base = mkdtempSync(join(tmpdir(), "cb-lab-test-"));
chmodSync(base, 0o755);
after(() => rmSync(base, { recursive: true, force: true }));

let pki: ClusterPki;
before(async () => {
  pki = await newClusterPki();
});

const openssl = (...args: string[]) => spawnSync("openssl", args, { encoding: "utf8" });
const kubeconfig = (path: string) =>
  parse(readFileSync(path, "utf8")) as { users: { user: Record<string, string> }[] };
const fromBase64 = (data: string | undefined) => Buffer.from(data ?? "", "base64").toString();
const PRIVATE_KEY_BLOCK =
  /-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[^-]+-----END [A-Z ]*PRIVATE KEY-----\r?\n/g;

describe("lab node trees", () => {
  let node: LabNode;
  before(async () => {
    node = await writeLabNode({
      root: join(base, "tree"),
      nodeName: "lab-a-1",
      address: labAddress(21),
      pki,
      dates: { apiserver: expired },
      foreignCa: ["front-proxy-client"],
      der: ["etcd-peer"],
      bundle: ["apiserver-kubelet-client"],
      crlf: ["etcd-server"],
      serverTLSBootstrap: true,
    });
  });

  test("every catalogue file is where the scanner looks", () => {
    for (const entry of CATALOGUE) {
      const dir = node[entry.base];
      assert.ok(existsSync(join(dir, entry.path)), `${entry.name}: ${entry.path}`);
    }
    for (const key of ["pki/sa.key", "pki/sa.pub", "pki/apiserver.key", "pki/etcd/ca.key"]) {
      assert.ok(existsSync(join(node.kubernetesDir, key)), key);
    }
    assert.equal(statSync(join(node.kubernetesDir, "admin.conf")).mode & 0o777, 0o600);
    assert.equal(statSync(join(node.kubernetesDir, "pki/ca.crt")).mode & 0o777, 0o644);
  });

  test("a worker's tree: kubelet.conf, the cluster CA's certificate and the kubelet's files, no keys of kubeadm's", async () => {
    const worker = await writeLabNode({
      root: join(base, "worker"),
      nodeName: "lab-w-1",
      address: labAddress(21),
      pki,
      layout: "worker",
    });
    assert.deepEqual(readdirSync(worker.kubernetesDir, { recursive: true }).sort(), [
      "kubelet.conf",
      "pki",
      "pki/ca.crt",
    ]);
    assert.deepEqual(
      readdirSync(worker.kubeletPkiDir).filter((f) => !/^kubelet-client-\d/.test(f)),
      ["kubelet-client-current.pem", "kubelet.crt", "kubelet.key"],
    );
    assert.equal(worker.apiserver, undefined);
    assert.ok(existsSync(join(worker.binDir, "kubeadm")));
  });

  test("a kubespray etcd node's tree: make-ssl-etcd.sh's names and subjects, its peers' files beside its own", async () => {
    const etcd = await writeLabNode({
      root: join(base, "kubespray"),
      nodeName: "etcd1.example.com",
      address: labAddress(21),
      pki,
      layout: "kubespray-etcd",
      kubesprayPeers: ["etcd2"],
      kubesprayNodeCert: true,
    });
    assert.equal(etcd.etcdPkiDir, join(base, "kubespray/etc/ssl/etcd/ssl"));
    assert.deepEqual(readdirSync(etcd.etcdPkiDir).sort(), [
      "admin-etcd1.example.com-key.pem",
      "admin-etcd1.example.com.pem",
      "admin-etcd2-key.pem",
      "admin-etcd2.pem",
      "ca-key.pem",
      "ca.pem",
      "member-etcd1.example.com-key.pem",
      "member-etcd1.example.com.pem",
      "member-etcd2-key.pem",
      "member-etcd2.pem",
      "node-etcd1.example.com-key.pem",
      "node-etcd1.example.com.pem",
      "node-etcd2-key.pem",
      "node-etcd2.pem",
    ]);
    assert.equal(statSync(join(etcd.etcdPkiDir, "member-etcd1.example.com-key.pem")).mode & 0o777, 0o600);
    const member = new X509Certificate(readFileSync(join(etcd.etcdPkiDir, "member-etcd1.example.com.pem")));
    assert.equal(member.subject, "CN=etcd-member-etcd1");
    assert.ok(member.verify(new X509Certificate(readFileSync(join(etcd.etcdPkiDir, "ca.pem"))).publicKey));
    assert.equal(existsSync(etcd.kubernetesDir) || existsSync(join(etcd.binDir, "kubeadm")), false);
  });

  test("kubelet-client-current.pem is a symlink to the dated certificate-then-key file", () => {
    const current = join(node.kubeletPkiDir, "kubelet-client-current.pem");
    assert.ok(lstatSync(current).isSymbolicLink());
    assert.match(readlinkSync(current), /\/kubelet-client-\d{4}(-\d\d){5}\.pem$/);
    const text = readFileSync(current, "utf8");
    assert.ok(text.startsWith(node.certs["kubelet-client"]!.pem));
    assert.match(text, /-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----/);
    const conf = kubeconfig(join(node.kubernetesDir, "kubelet.conf"));
    assert.equal(conf.users[0]?.user["client-certificate"], current);
    assert.equal(conf.users[0]?.user["client-certificate-data"], undefined);
  });

  test("dates, issuers and encodings are what was asked for", () => {
    const pkiDir = join(node.kubernetesDir, "pki");
    const endDate = openssl("x509", "-noout", "-enddate", "-in", join(pkiDir, "apiserver.crt"));
    assert.equal(endDate.stdout, "notAfter=Jan  1 00:00:00 2024 GMT\n");
    assert.equal(
      openssl("verify", "-CAfile", join(pkiDir, "ca.crt"), join(pkiDir, "apiserver-kubelet-client.crt"))
        .status,
      0,
    );
    assert.equal(
      openssl("verify", "-CAfile", join(pkiDir, "etcd/ca.crt"), join(pkiDir, "etcd/server.crt")).status,
      0,
    );
    const foreign = openssl(
      "verify",
      "-CAfile",
      join(pkiDir, "front-proxy-ca.crt"),
      join(pkiDir, "front-proxy-client.crt"),
    );
    assert.notEqual(foreign.status, 0);
    assert.match(
      readFileSync(join(pkiDir, "apiserver-kubelet-client.crt"), "utf8"),
      /-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----/,
    );
    assert.ok(readFileSync(join(pkiDir, "etcd/peer.crt")).equals(node.certs["etcd-peer"]!.der));
    assert.match(readFileSync(join(pkiDir, "etcd/server.crt"), "utf8"), /^-----BEGIN CERTIFICATE-----\r\n/);
    const admin = kubeconfig(join(node.kubernetesDir, "admin.conf")).users[0]?.user;
    assert.equal(fromBase64(admin?.["client-certificate-data"]), node.certs["admin.conf"]!.pem);
    assert.match(node.apiserver!.subject, /^CN=kube-apiserver$/);
    const sans = new X509Certificate(node.apiserver!.der).subjectAltName ?? "";
    assert.match(
      sans,
      /DNS:kubernetes\.default\.svc\.cluster\.local, DNS:lab-a-1, IP Address:10\.96\.0\.1, IP Address:127\.0\.0\.21/,
    );
  });

  test("bin/kubeadm answers `version -o short` and nothing else", () => {
    const kubeadm = join(node.binDir, "kubeadm");
    assert.equal(execFileSync(kubeadm, ["version", "-o", "short"], { encoding: "utf8" }), "v1.30.4\n");
    assert.equal(spawnSync(kubeadm, ["version"]).status, 1);
  });

  test("privateKeysPem lists every private key in the tree", () => {
    const found: string[] = [];
    for (const rel of readdirSync(node.root, { recursive: true, encoding: "utf8" })) {
      const path = join(node.root, rel);
      if (!lstatSync(path).isFile()) continue;
      const text = readFileSync(path, "utf8");
      const decoded = [...text.matchAll(/client-key-data: (\S+)/g)].map((m) => fromBase64(m[1]));
      for (const chunk of [text, ...decoded]) found.push(...(chunk.match(PRIVATE_KEY_BLOCK) ?? []));
    }
    assert.ok(found.length >= 15);
    for (const key of found) assert.ok(node.privateKeysPem.includes(key.replace(/\r\n/g, "\n")), key);
  });

  test("older and leaner layouts, and broken files", async () => {
    const lean = await writeLabNode({
      root: join(base, "lean"),
      nodeName: "lab-a-2",
      address: labAddress(22),
      pki,
      externalEtcd: true,
      superAdmin: false,
      embeddedKubeletConf: true,
      kubeletServingCa: true,
      kubeadmVersion: null,
      empty: ["ca"],
      garbage: ["front-proxy-client"],
      missing: ["scheduler.conf"],
    });
    const k = lean.kubernetesDir;
    assert.ok(!existsSync(join(k, "pki/etcd")));
    assert.ok(!existsSync(join(k, "pki/apiserver-etcd-client.crt")));
    assert.ok(!existsSync(join(k, "super-admin.conf")));
    assert.ok(!existsSync(join(k, "scheduler.conf")));
    assert.ok(!existsSync(join(lean.kubeletPkiDir, "kubelet-client-current.pem")));
    assert.ok(!existsSync(join(lean.binDir, "kubeadm")));
    assert.equal(statSync(join(k, "pki/ca.crt")).size, 0);
    assert.doesNotMatch(readFileSync(join(k, "pki/front-proxy-client.crt"), "latin1"), /BEGIN/);
    const kubelet = kubeconfig(join(k, "kubelet.conf")).users[0]?.user;
    assert.equal(fromBase64(kubelet?.["client-certificate-data"]), lean.certs["kubelet.conf"]!.pem);
    // The kubelet's own serving certificate: leaf, then the throwaway CA that signed it.
    const servingPath = join(lean.kubeletPkiDir, "kubelet.crt");
    const [leaf, ca] = readFileSync(servingPath, "utf8").split(/(?<=-----END CERTIFICATE-----\n)/);
    assert.ok(leaf && ca);
    assert.ok(new X509Certificate(leaf).verify(new X509Certificate(ca).publicKey));
    assert.match(new X509Certificate(leaf).issuer, /^CN=lab-a-2-ca@\d+$/);
    await assert.rejects(
      writeLabNode({
        root: join(base, "bad"),
        nodeName: "x",
        address: labAddress(23),
        pki,
        der: ["admin.conf"],
      }),
      /der names admin\.conf/,
    );
  });
});

describe("lab apiserver", () => {
  const fingerprint = (address: string, port: number) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect({ host: address, port, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      });
      socket.once("error", reject);
    });

  test("serves the node's apiserver certificate over real TLS", async () => {
    const address = labAddress(24);
    const node = await writeLabNode({ root: join(base, "api"), nodeName: "lab-b-1", address, pki });
    const server = await startApiserver({
      address,
      port: await freePort(address),
      certPem: node.apiserver!.pem + pki.ca.pem,
      keyPem: node.apiserver!.key.traditionalPem,
    });
    try {
      assert.equal(
        await fingerprint(address, server.port),
        new X509Certificate(node.apiserver!.der).fingerprint256,
      );
      const readyz = await new Promise<string>((resolve, reject) => {
        get({ host: address, port: server.port, path: "/readyz", ca: pki.ca.pem }, (res) => {
          res.setEncoding("utf8");
          let body = "";
          res.on("data", (chunk: string) => (body += chunk));
          res.on("end", () => resolve(`${res.statusCode} ${body}`));
        }).once("error", reject);
      });
      assert.equal(readyz, "200 ok");
      const renewed = await writeLabNode({ root: join(base, "api"), nodeName: "lab-b-1", address, pki });
      server.setCert(renewed.apiserver!.pem, renewed.apiserver!.key.traditionalPem);
      assert.equal(
        await fingerprint(address, server.port),
        new X509Certificate(renewed.apiserver!.der).fingerprint256,
      );
    } finally {
      await server.stop();
    }
  });
});

describe("lab sshd", needsRoot, () => {
  const address = labAddress(25);
  let users: LabUsers;
  let node: LabNode;
  let sshd: LabSshd;
  before(async () => {
    users = await ensureLabUsers(join(base, "users"));
    node = await writeLabNode({
      root: join(base, "ssh-node"),
      nodeName: "lab-c-1",
      address,
      pki,
      owner: { uid: users.plainUid, gid: users.plainGid },
      unreadable: ["apiserver"],
    });
    sshd = await startSshd({
      dir: join(base, "sshd"),
      address,
      port: await freePort(address),
      users,
      pathPrepend: node.binDir,
    });
  });
  after(() => sshd?.stop());

  /** ssh's arguments to run `command` as `user`, trusting only this known_hosts line. */
  const sshArgs = (user: string, knownHostsLine: string, command: string): string[] => {
    const knownHosts = join(base, `known_hosts-${user}`);
    writeKnownHosts(knownHosts, [knownHostsLine]);
    // -F /dev/null and no global known_hosts: only what this test wrote may vouch for the server.
    const options = [
      "-F",
      "/dev/null",
      "-i",
      users.clientKeyPath,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
    ];
    options.push("-o", `UserKnownHostsFile=${knownHosts}`, "-o", "GlobalKnownHostsFile=/dev/null");
    options.push("-o", "StrictHostKeyChecking=yes", "-p", String(sshd.port));
    return [...options, `${user}@${address}`, command];
  };
  const ssh = (user: string, knownHostsLine: string, command: string, input?: string) =>
    spawnSync("ssh", sshArgs(user, knownHostsLine, command), { input, encoding: "utf8", timeout: 20_000 });
  const versionProbe = "echo hi; command -v kubeadm && kubeadm version -o short";

  test("a plain user logs in with the client key, with the node's kubeadm on PATH", () => {
    const result = ssh(users.plain, sshd.knownHostsLine(), versionProbe);
    assert.equal(result.stderr, "");
    assert.equal(result.stdout, `hi\n${node.binDir}/kubeadm\nv1.30.4\n`);
  });

  test("a hashed known_hosts line is accepted", () => {
    const line = sshd.knownHostsLine(true);
    assert.match(line, /^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= ssh-ed25519 AAAA\S+$/);
    assert.equal(ssh(users.plain, line, versionProbe).stdout, `hi\n${node.binDir}/kubeadm\nv1.30.4\n`);
  });

  test("a different host key is refused", () => {
    const wrong = sshd
      .knownHostsLine()
      .replace(/ssh-ed25519 \S+$/, readFileSync(`${users.clientKeyPath}.pub`, "utf8").trim());
    const result = ssh(users.plain, wrong, "echo hi");
    assert.equal(result.status, 255);
    assert.match(result.stderr, /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  test("only the sudo user reads root-only files, through `sudo -n /bin/sh -s`", () => {
    const secret = join(base, "root-only");
    writeFileSync(secret, "root secret\n", { mode: 0o600 });
    const apiserverCrt = join(node.kubernetesDir, "pki/apiserver.crt");
    const script = `cat ${secret}; head -n 1 ${apiserverCrt}; command -v kubeadm\n`;
    const viaSudo = ssh(users.sudo, sshd.knownHostsLine(), "sudo -n /bin/sh -s", script);
    assert.equal(viaSudo.stdout, `root secret\n-----BEGIN CERTIFICATE-----\n${node.binDir}/kubeadm\n`);
    const plain = ssh(users.plain, sshd.knownHostsLine(), `cat ${secret} ${apiserverCrt}`);
    assert.equal(plain.stdout, "");
    assert.match(plain.stderr, /Permission denied[^]*Permission denied/);
  });
  test("drop kills the sshd with its live sessions; start brings it back on the same address, port and host key", async () => {
    const line = sshd.knownHostsLine();
    const session = spawn("ssh", sshArgs(users.plain, line, "echo started; sleep 10; echo finished"));
    let out = "";
    session.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    const ended = new Promise<number | null>((resolve) => session.once("close", resolve));
    await until("the session to start", async () => out.includes("started"), 10_000);
    await sshd.drop();
    assert.equal(await ended, 255, "the live session was cut");
    assert.equal(out, "started\n");
    const refused = ssh(users.plain, line, "echo hi");
    assert.equal(refused.status, 255);
    assert.match(refused.stderr, /Connection refused/);
    await sshd.start();
    const again = ssh(users.plain, line, "echo hi");
    assert.equal(again.stderr, "");
    assert.equal(again.stdout, "hi\n", "the same host key is pinned");
  });
});
