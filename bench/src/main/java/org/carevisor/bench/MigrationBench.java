package org.carevisor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.security.KeyPair;
import org.carevisor.pki.CertificateAuthority;
import org.carevisor.pki.Keys;
import org.carevisor.pki.Pem;
import org.carevisor.protocol.DiskSpec;
import org.carevisor.protocol.NicSpec;
import org.carevisor.protocol.VmSpec;
import org.carevisor.qemu.QemuCommandLine;
import org.carevisor.qemu.QemuHostConfig;
import org.carevisor.qemu.QmpClient;
import org.carevisor.qemu.VmRuntimePaths;
import org.carevisor.testkit.GuestProbe;
import org.carevisor.testkit.Lab;
import org.carevisor.testkit.LabNetwork;
import org.carevisor.testkit.Poll;
import org.carevisor.testkit.ProbeMonitor;

/**
 * Live migration benchmark in a three-host lab (network namespaces, one shared storage directory):
 * <ol>
 *   <li>a 512 MiB guest, idle and while it rewrites memory in a loop: Carevisor's live migration (through
 *       API, manager and agents) against the same migration done with bare QEMU commands (two QEMU processes
 *       started by hand with the same command line, QMP {@code migrate}, over the same mutual TLS with host
 *       certificates as Carevisor uses) in the same run - the downtime QEMU reports, the total time, and the
 *       longest gap a client of the guest's web service saw; and once bare without TLS, to show what TLS costs;</li>
 *   <li>the time to evacuate a host that runs 8 VMs (maintenance mode).</li>
 * </ol>
 * Needs root (the lab's network namespaces). Usage: MigrationBench [runs (default 5)] [dirty MiB (default 32)]
 */
public final class MigrationBench {
    private static final Duration BOOT = Duration.ofSeconds(120);
    private static final int MEMORY = 512;
    private static final int BANDWIDTH_MIB = 1024;
    private static final int DOWNTIME_LIMIT = 300;

    /** One migration's figures. */
    record Run(double downtimeMs, double totalMs, double gapMs, int failed) {
    }

    private MigrationBench() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int dirtyMib = args.length > 1 ? Integer.parseInt(args[1]) : 32;
        if (!LabNetwork.available()) {
            throw new IllegalStateException("the migration benchmark needs root (network namespaces)");
        }
        Path work = Files.createTempDirectory("carevisor-migration-bench");
        Path appliance = Lab.applianceImage();
        System.out.printf("Migration benchmark: %d runs per case, %d MiB guest, dirtier %d MiB, %d CPUs%n", runs,
                MEMORY, dirtyMib, Runtime.getRuntime().availableProcessors());
        List<Run> cvIdle;
        List<Run> cvDirty;
        List<Run> bareIdle;
        List<Run> bareDirty;
        List<Run> barePlain;
        double evacuateMs;
        String evacuateMessage;
        try (Lab lab = Lab.cluster(work.resolve("lab"), 22400, 3,
                // the migration itself is measured, not the wait after a guest's start that guards its boot
                List.of("--migration-boot-settle-seconds", "0"), appliance)) {
            cvIdle = carevisor(lab, "idle", runs, 0);
            cvDirty = carevisor(lab, "dirty", runs, dirtyMib);
            Bare bare = new Bare(lab.network(), work.resolve("bare"), appliance, true);
            bareIdle = bare.runs("bare-idle", runs, 0);
            bareDirty = bare.runs("bare-dirty", runs, dirtyMib);
            barePlain = new Bare(lab.network(), work.resolve("bare-plain"), appliance, false)
                    .runs("bare-plain", runs, 0);
            // evacuation of a host running 8 VMs
            for (int i = 0; i < 8; i++) {
                lab.createVm("{\"name\":\"evac-" + i + "\",\"cpus\":1,\"memoryMiB\":256,\"image\":"
                        + "\"carevisor-appliance\",\"host\":\"lab-h1\",\"nics\":[{\"network\":\"lab\"}],\"start\":true}");
            }
            for (int i = 0; i < 8; i++) {
                lab.guest("evac-" + i).awaitReady(BOOT);
            }
            long t0 = System.nanoTime();
            JsonNode task = lab.run("/api/v1/hosts/lab-h1/maintenance", "{\"reason\":\"benchmark\"}");
            evacuateMs = (System.nanoTime() - t0) / 1e6;
            check(task);
            evacuateMessage = task.path("message").asText();
        }
        System.out.println();
        System.out.println("| case | runs | QEMU downtime p50 / max | total time p50 | longest probe gap p50 / max | failed probe requests |");
        System.out.println("|---|---|---|---|---|---|");
        row("Carevisor, idle guest", cvIdle);
        row("bare QEMU (TLS), idle guest", bareIdle);
        row("Carevisor, guest rewriting " + dirtyMib + " MiB", cvDirty);
        row("bare QEMU (TLS), guest rewriting " + dirtyMib + " MiB", bareDirty);
        row("bare QEMU without TLS, idle guest", barePlain);
        System.out.println();
        System.out.printf("downtime ratio Carevisor / bare QEMU (p50): idle %.2f, dirty %.2f%n",
                p50(cvIdle, Run::downtimeMs) / p50(bareIdle, Run::downtimeMs),
                p50(cvDirty, Run::downtimeMs) / p50(bareDirty, Run::downtimeMs));
        System.out.printf("evacuating a host with 8 VMs (256 MiB each): %.1f s (%s)%n", evacuateMs / 1000, evacuateMessage);
    }

    /** Migrations of one guest back and forth between lab-h1 and lab-h2 through the API. */
    private static List<Run> carevisor(Lab lab, String name, int runs, int dirtyMib) throws Exception {
        lab.createVm("{\"name\":\"" + name + "\",\"cpus\":1,\"memoryMiB\":" + MEMORY + ",\"image\":"
                + "\"carevisor-appliance\",\"host\":\"lab-h1\",\"nics\":[{\"network\":\"lab\"}],\"start\":true}");
        GuestProbe guest = lab.guest(name);
        String bootId = guest.awaitReady(BOOT).bootId();
        String ip = lab.vm(name).path("nics").get(0).path("ip").asText();
        if (dirtyMib > 0) {
            startDirtier(ip, dirtyMib);
        }
        List<Run> out = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            String to = i % 2 == 0 ? "lab-h2" : "lab-h1";
            JsonNode task;
            ProbeMonitor.Result seen;
            try (ProbeMonitor probe = ProbeMonitor.start(ip, 80, "/", 100)) {
                Thread.sleep(500);
                task = lab.run("/api/v1/vms/" + name + "/migrate", "{\"host\":\"" + to + "\"}");
                Thread.sleep(500);
                seen = probe.stop();
            }
            check(task);
            JsonNode m = lab.api().get("/api/v1/migrations?vm=" + name + "&limit=1").json().get(0);
            out.add(new Run(m.path("downtimeMs").asDouble(), m.path("totalMs").asDouble(), seen.longestGapMillis(),
                    seen.failedRequests()));
            System.out.printf("  carevisor %s #%d: %s; probe gap %d ms, %d failed%n", name, i + 1,
                    task.path("message").asText(), seen.longestGapMillis(), seen.failedRequests());
        }
        if (!guest.status().bootId().equals(bootId)) {
            throw new IllegalStateException("the guest rebooted during the migrations");
        }
        lab.awaitTask(lab.api().delete("/api/v1/vms/" + name + "?force=true").expect(202).json().path("id").asText());
        return out;
    }

    /** The same migrations done with bare QEMU: two processes in two host namespaces and QMP by hand. */
    private static final class Bare {
        private final LabNetwork net;
        private final Path dir;
        private final Path appliance;
        private final boolean tls;
        private final CertificateAuthority ca;

        Bare(LabNetwork net, Path dir, Path appliance, boolean tls) throws IOException {
            this.net = net;
            this.dir = dir;
            this.appliance = appliance;
            this.tls = tls;
            this.ca = tls ? CertificateAuthority.loadOrCreate(dir.resolve("ca"), "Bench CA") : null;
        }

        /** Host {@code host}'s certificate, as enrollment issues it, in the file names QEMU reads. */
        private void credentials(QmpClient qmp, int host, String endpoint) throws IOException {
            Path d = Files.createDirectories(dir.resolve("tls-" + host + "-" + endpoint));
            KeyPair keys = Keys.generate();
            Files.writeString(d.resolve("ca-cert.pem"), Pem.write(ca.certificate()));
            Files.writeString(d.resolve(endpoint + "-cert.pem"), Pem.write(ca.issue(keys.getPublic(),
                    "host:bench-" + host, List.of(net.hostAddress(host)), Duration.ofHours(2))));
            Files.writeString(d.resolve(endpoint + "-key.pem"), Pem.writeForGnutls(keys.getPrivate(), keys.getPublic()));
            try {
                qmp.execute("object-del", Map.of("id", "mig-tls"));
            } catch (RuntimeException e) {
                // none yet
            }
            qmp.execute("object-add", Map.of("qom-type", "tls-creds-x509", "id", "mig-tls", "dir", d.toString(),
                    "endpoint", endpoint, "verify-peer", true));
        }

        List<Run> runs(String name, int runs, int dirtyMib) throws Exception {
            Files.createDirectories(dir.resolve("storage"));
            Path disk = dir.resolve("storage/" + name + ".qcow2");
            // the base a template base image in the storage, as the agent requires of every backing file
            Path base = dir.resolve("storage/templates/base.qcow2");
            if (!Files.exists(base)) {
                Files.createDirectories(base.getParent());
                Files.copy(appliance, base);
            }
            exec(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-b", "templates/base.qcow2", "-F", "qcow2",
                    disk.toString()));
            String ip = net.cidr().replace(".0/24", ".240");
            VmSpec spec = new VmSpec(UUID.randomUUID().toString(), name, 1, MEMORY, "pc", "qemu64",
                    List.of(new DiskSpec("disk0", disk.getFileName().toString(), "qcow2", false)),
                    List.of(new NicSpec("nic0", "52:54:00:be:ef:01", "bridge", List.of(), LabNetwork.vmBridge(),
                            ip + "/24", net.managerAddress())), 1);
            Node source = Node.start(this, spec, 1, false);
            List<Run> out = new ArrayList<>();
            try {
                new GuestProbe(ip, 80).awaitReady(BOOT);
                if (dirtyMib > 0) {
                    startDirtier(ip, dirtyMib);
                }
                for (int i = 0; i < runs; i++) {
                    int to = source.host == 1 ? 2 : 1;
                    Node dest = Node.start(this, spec, to, true);
                    int port = 49300 + i;
                    if (tls) {
                        credentials(dest.qmp, to, "server");
                        dest.qmp.execute("object-add", Map.of("qom-type", "authz-simple", "id", "mig-authz",
                                "identity", "CN=host:bench-" + source.host + ",O=Carevisor"));
                        dest.qmp.execute("migrate-set-parameters", Map.of("tls-creds", "mig-tls", "tls-authz",
                                "mig-authz"));
                        credentials(source.qmp, source.host, "client");
                        source.qmp.execute("migrate-set-parameters", Map.of("tls-creds", "mig-tls", "tls-hostname",
                                net.hostAddress(to)));
                    }
                    dest.qmp.execute("migrate-incoming", Map.of("uri", "tcp:" + net.hostAddress(to) + ":" + port));
                    source.qmp.execute("migrate-set-capabilities", Map.of("capabilities", List.of(
                            Map.of("capability", "auto-converge", "state", true))));
                    source.qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", (long) BANDWIDTH_MIB << 20,
                            "downtime-limit", DOWNTIME_LIMIT));
                    JsonNode done;
                    ProbeMonitor.Result seen;
                    Node src = source;
                    try (ProbeMonitor probe = ProbeMonitor.start(ip, 80, "/", 100)) {
                        Thread.sleep(500);
                        src.qmp.execute("migrate", Map.of("uri", "tcp:" + net.hostAddress(to) + ":" + port));
                        done = Poll.until(Duration.ofMinutes(10), Duration.ofMillis(20), "bare migration", () -> {
                            JsonNode q = src.qmp.execute("query-migrate", null);
                            String s = q.path("status").asText();
                            if (s.equals("failed") || s.equals("cancelled")) {
                                throw new IllegalStateException("bare migration " + s + ": " + q);
                            }
                            return s.equals("completed") ? q : null;
                        });
                        Thread.sleep(500);
                        seen = probe.stop();
                    }
                    source.stop();
                    source = dest;
                    out.add(new Run(done.path("downtime").asDouble(), done.path("total-time").asDouble(),
                            seen.longestGapMillis(), seen.failedRequests()));
                    System.out.printf("  bare %s #%d: downtime %d ms, total %d ms; probe gap %d ms, %d failed%n", name,
                            i + 1, done.path("downtime").asLong(), done.path("total-time").asLong(),
                            seen.longestGapMillis(), seen.failedRequests());
                }
            } finally {
                source.stop();
            }
            return out;
        }
    }

    /** One bare QEMU process in a host's namespace, with its tap device on the VM bridge. */
    private static final class Node {
        final int host;
        final Process process;
        final QmpClient qmp;
        final String ns;
        final String tap;

        private Node(int host, Process process, QmpClient qmp, String ns, String tap) {
            this.host = host;
            this.process = process;
            this.qmp = qmp;
            this.ns = ns;
            this.tap = tap;
        }

        static Node start(Bare bare, VmSpec spec, int host, boolean incoming) throws Exception {
            String ns = bare.net.namespace(host);
            String tap = QemuCommandLine.tapName(spec.id(), "nic0");
            exec(List.of("ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap"));
            exec(List.of("ip", "-n", ns, "link", "set", tap, "address", "fe:54:00:be:ef:01"));
            exec(List.of("ip", "-n", ns, "link", "set", tap, "master", LabNetwork.vmBridge()));
            exec(List.of("ip", "-n", ns, "link", "set", tap, "up"));
            Path runDir = bare.dir.resolve("run-" + host + "-" + System.nanoTime());
            Files.createDirectories(runDir);
            List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", ns));
            argv.addAll(QemuCommandLine.build(spec, new QemuHostConfig("qemu-system-x86_64", "tcg",
                    bare.dir.resolve("storage"), "127.0.0.1", true), new VmRuntimePaths(runDir), incoming));
            // the plain way to run a destination: it resumes by itself when the migration completes (no -S)
            argv.remove("-S");
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(runDir.resolve("qemu.log")
                    .toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            Path socket = runDir.resolve("qmp.sock");
            QmpClient qmp = Poll.until(Duration.ofSeconds(20), Duration.ofMillis(20), "QMP of bare QEMU", () -> {
                if (!p.isAlive()) {
                    throw new IllegalStateException("bare QEMU exited, see " + runDir.resolve("qemu.log"));
                }
                try {
                    return Files.exists(socket) ? QmpClient.connect(socket, "bare", e -> { }, () -> { }) : null;
                } catch (RuntimeException e) {
                    return null;
                }
            });
            return new Node(host, p, qmp, ns, tap);
        }

        void stop() throws Exception {
            if (process.isAlive()) {
                try {
                    qmp.execute("quit", null);
                } catch (RuntimeException e) {
                    process.destroyForcibly();
                }
                process.waitFor();
            }
            qmp.close();
            new ProcessBuilder("ip", "-n", ns, "link", "del", tap).redirectErrorStream(true).start().waitFor();
        }
    }

    private static void startDirtier(String ip, int mib) throws Exception {
        java.net.HttpURLConnection c = (java.net.HttpURLConnection) java.net.URI.create("http://" + ip
                + "/cgi-bin/dirty?mib=" + mib).toURL().openConnection();
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.getOutputStream().close();
        if (c.getResponseCode() != 200) {
            throw new IOException("the guest's dirtier did not start: HTTP " + c.getResponseCode());
        }
        // wait until it rewrites memory (the first fill from /dev/urandom takes a moment)
        long t0 = System.nanoTime();
        Poll.until(Duration.ofSeconds(300), Duration.ofSeconds(1), "the dirtier's first pass", () -> {
            try {
                java.net.HttpURLConnection g = (java.net.HttpURLConnection) java.net.URI.create("http://" + ip
                        + "/cgi-bin/dirty").toURL().openConnection();
                String body = new String(g.getInputStream().readAllBytes());
                return body.trim().matches(".*\"passes\":[1-9][0-9]*.*") ? true : null;
            } catch (IOException e) {
                return null;
            }
        });
        System.out.printf("  dirtier of %s rewrites %d MiB (first pass after %.1f s)%n", ip, mib,
                (System.nanoTime() - t0) / 1e9);
    }

    private static void check(JsonNode task) {
        if (!task.path("state").asText().equals("succeeded")) {
            throw new IllegalStateException("task failed: " + task);
        }
    }

    private static double p50(List<Run> runs, java.util.function.ToDoubleFunction<Run> f) {
        return new Stats(runs.stream().map(r -> f.applyAsDouble(r)).toList()).p(50);
    }

    private static void row(String label, List<Run> runs) {
        Stats down = new Stats(runs.stream().map(Run::downtimeMs).toList());
        Stats total = new Stats(runs.stream().map(Run::totalMs).toList());
        Stats gap = new Stats(runs.stream().map(Run::gapMs).toList());
        int failed = runs.stream().mapToInt(Run::failed).sum();
        System.out.printf("| %s | %d | %.0f / %.0f ms | %.0f ms | %.0f / %.0f ms | %d |%n", label, runs.size(),
                down.p(50), down.max(), total.p(50), gap.p(50), gap.max(), failed);
    }

    private static void exec(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }
}
