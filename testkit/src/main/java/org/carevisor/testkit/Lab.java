package org.carevisor.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A local Carevisor for integration tests: a manager and one agent (like {@code ./carevisor up}) or several
 * agents in network namespaces sharing one storage directory (like {@code ./carevisor lab --hosts N}), each
 * its own JVM process, with all state under one directory. Components can be killed and restarted. Closing
 * the lab stops them, kills every QEMU process started under its directory and removes its network.
 */
public final class Lab implements AutoCloseable {
    /** The lab manager's first administrator. */
    public static final String ADMIN = "admin";
    /** Its password (given to the manager as CAREVISOR_ADMIN_PASSWORD on its first start). */
    public static final String ADMIN_PASSWORD = "lab-admin-Secret-2026";
    /** One host of the lab: its agent's state directory, options and process. */
    public static final class Host {
        private final String name;
        private final Path stateDir;
        private final List<String> args;
        private final List<String> prefix;
        private final String address;
        private JavaProcess process;
        private java.time.Instant startedAt = java.time.Instant.EPOCH;

        Host(String name, Path stateDir, List<String> args, List<String> prefix, String address) {
            this.name = name;
            this.stateDir = stateDir;
            this.args = args;
            this.prefix = prefix;
            this.address = address;
        }

        public String name() {
            return name;
        }

        public Path stateDir() {
            return stateDir;
        }

        /** The host's address (127.0.0.1 for the single-host lab). */
        public String address() {
            return address;
        }

        public JavaProcess process() {
            return process;
        }

        /** The host id the manager assigned when the agent enrolled (kept in the agent's state directory). */
        public String id() throws IOException {
            return Files.readString(stateDir.resolve("host-id")).strip();
        }
    }

    /** The appliance image built by appliance/build.sh (path passed by ./carevisor test). */
    public static Path applianceImage() {
        String p = System.getProperty("carevisor.appliance");
        Path image = p != null ? Path.of(p) : Path.of("../build/appliance/carevisor-appliance.qcow2").toAbsolutePath();
        if (!Files.isRegularFile(image)) {
            throw new IllegalStateException("guest appliance image " + image + " is missing; build it with "
                    + "./carevisor appliance (./carevisor test does this)");
        }
        return image;
    }

    private final Path dir;
    private final List<String> managerArgs;
    private final List<Host> hosts = new ArrayList<>();
    private final LabNetwork network;
    private JavaProcess manager;
    private Http http;
    private int managerPort;
    private String managerUrl;
    private String agentUrl;

    private Lab(Path dir, List<String> managerArgs, LabNetwork network) {
        this.dir = dir;
        this.managerArgs = managerArgs;
        this.network = network;
    }

    private static void installImages(Path dir, Path... images) throws IOException {
        Files.createDirectories(dir.resolve("storage/images"));
        for (Path image : images) {
            Path target = dir.resolve("storage/images").resolve(image.getFileName());
            if (!Files.exists(target)) {
                Files.copy(image, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** Starts a lab in {@code dir} with the given images in its image library. */
    public static Lab start(Path dir, int guestPortFrom, Path... images) throws IOException {
        return start(dir, guestPortFrom, List.of(), images);
    }

    /** The same, with more manager options (e.g. {@code --audit-syslog tcp://127.0.0.1:PORT}). */
    public static Lab start(Path dir, int guestPortFrom, List<String> managerOptions, Path... images)
            throws IOException {
        installImages(dir, images);
        List<String> m = new ArrayList<>(List.of("--data-dir", dir.resolve("manager").toString(), "--port", "0",
                "--agent-port", "0", "--guest-port-range", guestPortFrom + "-" + (guestPortFrom + 199),
                "--host-timeout-ms", "4000"));
        m.addAll(managerOptions);
        List<String> a = new ArrayList<>(List.of("--state-dir", dir.resolve("agent").toString(), "--storage-dir",
                dir.resolve("storage").toString(), "--port", "0", "--accel", "tcg", "--host-name", "lab-host"));
        Lab lab = new Lab(dir, m, null);
        lab.hosts.add(new Host("lab-host", dir.resolve("agent"), a, List.of(), "127.0.0.1"));
        lab.boot();
        return lab;
    }

    /**
     * Starts a lab of {@code hostCount} hosts, each agent in its own network namespace with its own state
     * directory, all sharing {@code dir/storage}; creates the bridged network {@code lab} (guests get fixed
     * addresses, reachable from the test). The manager runs in lab mode (hosts are fenced with the lab fence
     * agent). Needs root ({@link LabNetwork#available()}).
     */
    public static Lab cluster(Path dir, int guestPortFrom, int hostCount, Path... images) throws IOException {
        return cluster(dir, guestPortFrom, hostCount, List.of(), images);
    }

    /**
     * The same, with more manager options (e.g. {@code --ups NAME@HOST:PORT}). The lab's agents end their process
     * at the end of a site shutdown ({@code --power-off-action exit}): a lab host "switched off".
     */
    public static Lab cluster(Path dir, int guestPortFrom, int hostCount, List<String> managerOptions,
                              Path... images) throws IOException {
        installImages(dir, images);
        LabNetwork net = LabNetwork.create(hostCount);
        List<String> m = new ArrayList<>(List.of("--data-dir", dir.resolve("manager").toString(), "--port", "0",
                "--agent-port", "0", "--agent-listen", net.managerAddress(), "--guest-port-range", guestPortFrom + "-"
                        + (guestPortFrom + 199), "--host-timeout-ms", "4000", "--lab-mode", "true",
                // the lab's guests boot in seconds: a live migration waits 10 s after a start, not the default 30 s
                // (a campaign or a test of the default passes its own value, which overrides this one)
                "--migration-boot-settle-seconds", "10"));
        m.addAll(managerOptions);
        Lab lab = new Lab(dir, m, net);
        for (int i = 1; i <= hostCount; i++) {
            String name = "lab-h" + i;
            String address = net.hostAddress(i);
            Path state = dir.resolve("hosts").resolve(name);
            List<String> a = new ArrayList<>(List.of("--state-dir", state.toString(), "--storage-dir",
                    dir.resolve("storage").toString(), "--listen", address, "--port", "7701", "--accel", "tcg",
                    "--host-name", name, "--forward-address", address, "--migration-address", address,
                    "--power-off-action", "exit"));
            lab.hosts.add(new Host(name, state, a, List.of("ip", "netns", "exec", net.namespace(i)), address));
        }
        lab.boot();
        lab.http.post("/api/v1/networks", "{\"name\":\"lab\",\"kind\":\"bridge\",\"bridge\":\""
                + LabNetwork.vmBridge() + "\",\"cidr\":\"" + net.cidr() + "\",\"gateway\":\""
                + net.managerAddress() + "\",\"poolFrom\":\"" + net.cidr().replace(".0/24", ".100")
                + "\",\"poolTo\":\"" + net.cidr().replace(".0/24", ".199") + "\"}").expect(201);
        return lab;
    }

    private void boot() throws IOException {
        try {
            startManager();
            for (int i = 0; i < hosts.size(); i++) {
                startAgent(i);
            }
            awaitHostConnected();
        } catch (RuntimeException | IOException e) {
            close();
            throw e;
        }
    }

    public List<Host> hosts() {
        return List.copyOf(hosts);
    }

    public Host host(int i) {
        return hosts.get(i);
    }

    /** The lab's network (null for the single-host lab). */
    public LabNetwork network() {
        return network;
    }

    public Path dir() {
        return dir;
    }

    /** The API as the lab's administrator ({@link #ADMIN}, logged in when the manager started). */
    public Http api() {
        return http;
    }

    /** The JSON field of an electronic signature by the lab's administrator with {@code meaning}. */
    public static String signature(String meaning) {
        return "\"signature\":{\"username\":\"" + ADMIN + "\",\"password\":\"" + ADMIN_PASSWORD
                + "\",\"meaning\":\"" + meaning + "\"}";
    }

    /** The API without credentials. */
    public Http anonymous() {
        return new Http(managerUrl(), managerCa());
    }

    /**
     * Base64 of the SHA-256 of the public key the manager's API presents now (checked against the manager's CA):
     * what Chromium's {@code --ignore-certificate-errors-spki-list} takes to trust exactly this server key,
     * as a browser that imported the CA would.
     */
    public String apiSpkiPin() throws IOException {
        javax.net.ssl.SSLContext ctx = Http.sslContext(managerCa());
        try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1",
                managerPort)) {
            s.startHandshake();
            byte[] spki = s.getSession().getPeerCertificates()[0].getPublicKey().getEncoded();
            return java.util.Base64.getEncoder().encodeToString(
                    java.security.MessageDigest.getInstance("SHA-256").digest(spki));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The CA certificate the lab manager's API certificate is issued by (what clients trust). */
    public Path managerCa() {
        return Http.managerCa(dir.resolve("manager"));
    }

    /** Logs in and returns the session token. */
    public String login(String user, String password) {
        Http.Response r = anonymous().post("/api/v1/auth/login", "{\"username\":\"" + user + "\",\"password\":\""
                + password + "\"}");
        if (r.status() != 201) {
            throw new IllegalStateException("login of " + user + " failed: " + r.text());
        }
        return r.json().path("token").asText();
    }

    /** The API's base URL as the manager announced it (https://127.0.0.1:PORT), without a trailing slash. */
    public String managerUrl() {
        return managerUrl;
    }

    /** Starts the manager process; waits until its API answers. */
    public void startManager() throws IOException {
        Path urlFile = dir.resolve("manager/manager.url");
        Files.deleteIfExists(urlFile);
        Files.createDirectories(dir.resolve("log"));
        List<String> args = new ArrayList<>(managerArgs);
        if (managerPort != 0) {
            // a restarted manager keeps its ports: agents know where to report
            args.set(args.indexOf("--port") + 1, Integer.toString(managerPort));
            args.set(args.indexOf("--agent-port") + 1, agentUrl.replaceAll(".*:(\\d+)$", "$1"));
        }
        manager = JavaProcess.start("manager", "org.carevisor.manager.ManagerMain", args,
                dir.resolve("log/manager.log"), List.of(), java.util.Map.of("CAREVISOR_ADMIN_PASSWORD", ADMIN_PASSWORD));
        String url = Poll.until(Duration.ofSeconds(60), "manager to start (see " + manager.log() + ")", () -> {
            if (!manager.alive()) {
                throw new IllegalStateException("manager exited; see " + manager.log());
            }
            try {
                String text = Files.exists(urlFile) ? Files.readString(urlFile).strip() : "";
                return text.isEmpty() ? null : text;
            } catch (IOException e) {
                return null;
            }
        });
        managerPort = Integer.parseInt(url.replaceAll(".*:(\\d+)/?$", "$1"));
        managerUrl = url.replaceAll("/+$", "");
        agentUrl = Files.readString(dir.resolve("manager/agent.url")).strip();
        http = anonymous().login(ADMIN, ADMIN_PASSWORD);
    }

    /**
     * Starts the agent process (it re-adopts VMs that still run). On its first start it enrolls with a new
     * join token; later starts use the certificate it keeps.
     */
    public void startAgent() throws IOException {
        startAgent(0);
    }

    /** Starts the agent of host {@code i} (0-based). */
    public void startAgent(int i) throws IOException {
        Host h = hosts.get(i);
        List<String> args = new ArrayList<>(h.args);
        args.addAll(List.of("--manager-url", agentUrl));
        if (!Files.exists(h.stateDir.resolve("tls/agent.crt"))) {
            JsonNode token = http.post("/api/v1/hosts/join-tokens", "{\"ttlMinutes\":10}").json();
            args.addAll(List.of("--join-token", token.path("token").asText(), "--ca-fingerprint",
                    token.path("caFingerprint").asText()));
        }
        String log = hosts.size() == 1 && network == null ? "log/agent.log" : "log/agent-" + h.name + ".log";
        h.startedAt = java.time.Instant.now();
        h.process = JavaProcess.start("agent", "org.carevisor.agent.AgentMain", args, dir.resolve(log), h.prefix);
    }

    /** Waits until every host of the lab reports to the manager, each agent since its latest start. */
    public void awaitHostConnected() {
        Poll.until(Duration.ofSeconds(90), "the hosts to report to the manager (see " + dir.resolve("log") + ")",
                () -> {
                    JsonNode list = http.get("/api/v1/hosts").json();
                    for (Host h : hosts) {
                        boolean fresh = false;
                        for (JsonNode x : list) {
                            if (x.path("name").asText().equals(h.name) && x.path("status").asText().equals("connected")
                                    && java.time.Instant.parse(x.path("lastSeen").asText()).isAfter(h.startedAt)) {
                                fresh = true;
                            }
                        }
                        if (!fresh) {
                            return null;
                        }
                    }
                    return true;
                });
    }

    public JavaProcess manager() {
        return manager;
    }

    public JavaProcess agent() {
        return hosts.get(0).process;
    }

    /** The first agent's API endpoint (its port is chosen at start). */
    public String agentEndpoint() throws IOException {
        return Files.readString(hosts.get(0).stateDir.resolve("agent.endpoint")).strip();
    }

    /** Creates a VM through the API and waits for the create task; returns the VM. */
    public JsonNode createVm(String body) {
        Http.Response r = http.post("/api/v1/vms", body);
        if (r.status() != 202) {
            throw new AssertionError("create failed: " + r.status() + " " + r.text());
        }
        awaitTask(r.json().path("id").asText());
        return http.get(r.location()).json();
    }

    /** Waits for a task to finish and returns it; fails when the task failed. */
    public JsonNode awaitTask(String taskId) {
        JsonNode task = awaitTaskEnd(taskId);
        if (!task.path("state").asText().equals("succeeded")) {
            throw new AssertionError("task failed: " + task);
        }
        return task;
    }

    /** Waits for a task to finish, succeeded or failed, and returns it. */
    public JsonNode awaitTaskEnd(String taskId) {
        return Poll.until(Duration.ofSeconds(180), "task " + taskId, () -> {
            JsonNode t = http.get("/api/v1/tasks/" + taskId).json();
            String s = t.path("state").asText();
            return s.equals("succeeded") || s.equals("failed") ? t : null;
        });
    }

    /** POSTs {@code body} to an endpoint that answers 202 with a task, and returns the finished task. */
    public JsonNode run(String path, String body) {
        Http.Response r = http.post(path, body);
        if (r.status() != 202) {
            throw new AssertionError("POST " + path + " failed: " + r.status() + " " + r.text());
        }
        return awaitTaskEnd(r.json().path("id").asText());
    }

    /** Runs an action that answers 202 with a task and waits for it. */
    public JsonNode act(String vm, String action) {
        Http.Response r = http.post("/api/v1/vms/" + vm + "/" + action, null);
        if (r.status() != 202) {
            throw new AssertionError(action + " failed: " + r.status() + " " + r.text());
        }
        return awaitTask(r.json().path("id").asText());
    }

    public JsonNode vm(String idOrName) {
        return http.get("/api/v1/vms/" + idOrName).json();
    }

    /** Waits until the VM's observed state is {@code state}. */
    public JsonNode awaitState(String vm, String state, Duration limit) {
        return Poll.until(limit, "VM " + vm + " to be " + state, () -> {
            JsonNode v = vm(vm);
            return v.path("state").asText().equals(state) ? v : null;
        });
    }

    /** Probes the guest service of a running VM: at its own address on a bridged network, else the forward. */
    public GuestProbe guest(String vm) {
        JsonNode v = vm(vm);
        for (JsonNode nic : v.path("nics")) {
            if (nic.hasNonNull("ip")) {
                return new GuestProbe(nic.path("ip").asText(), 80);
            }
        }
        JsonNode forward = null;
        for (JsonNode f : v.path("forwards")) {
            if (f.path("guestPort").asInt() == 80) {
                forward = f;
            }
        }
        String address = forward == null || forward.path("hostAddress").isNull() ? "127.0.0.1"
                : forward.path("hostAddress").asText("127.0.0.1");
        return new GuestProbe(address, v.path("guestPort").asInt());
    }

    /** The QEMU pid an agent recorded for a VM (on whichever host ran it last). */
    public long qemuPid(String vmId) throws IOException {
        Path newest = null;
        for (Host h : hosts) {
            Path p = h.stateDir.resolve("vms/" + vmId + "/qemu.pid");
            if (Files.exists(p) && (newest == null
                    || Files.getLastModifiedTime(p).compareTo(Files.getLastModifiedTime(newest)) > 0)) {
                newest = p;
            }
        }
        if (newest == null) {
            throw new IOException("no host has a QEMU pid file for VM " + vmId);
        }
        return Long.parseLong(Files.readString(newest).strip());
    }

    /** The lab host (by name) that runs a VM now, according to the manager. */
    public Host hostOf(String vm) {
        String name = vm(vm).path("host").asText();
        return hosts.stream().filter(h -> h.name.equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("VM " + vm + " is on unknown host " + name));
    }

    @Override
    public void close() {
        try {
            for (Host h : hosts) {
                if (h.process != null) {
                    h.process.close();
                }
            }
            if (manager != null) {
                manager.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            QemuProcesses.killAll(dir.toString());
            if (network != null) {
                network.close();
            }
            keepLogs();
        }
    }

    /** Copies the lab's logs to target/lab-logs/ so a failed run can be read after the temp dir is gone. */
    private void keepLogs() {
        Path target = Path.of("target", "lab-logs", dir.getParent().getFileName() + "-" + dir.getFileName());
        try (var logs = Files.walk(dir)) {
            for (Path p : logs.filter(f -> f.toString().endsWith(".log") && Files.isRegularFile(f)).toList()) {
                Path copy = target.resolve(dir.relativize(p));
                Files.createDirectories(copy.getParent());
                Files.copy(p, copy, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            // logs are a convenience
        }
    }
}
