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
 * A local Carevisor for integration tests: a manager and one agent, each its own JVM process, with all
 * state under one directory, like {@code ./carevisor up}. Components can be killed and restarted. Closing
 * the lab stops both and kills every QEMU process started under its directory.
 */
public final class Lab implements AutoCloseable {
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
    private final List<String> agentArgs;
    private JavaProcess manager;
    private JavaProcess agent;
    private Http http;
    private int managerPort;
    private String agentUrl;

    private Lab(Path dir, List<String> managerArgs, List<String> agentArgs) {
        this.dir = dir;
        this.managerArgs = managerArgs;
        this.agentArgs = agentArgs;
    }

    /** Starts a lab in {@code dir} with the given images in its image library. */
    public static Lab start(Path dir, int guestPortFrom, Path... images) throws IOException {
        Files.createDirectories(dir.resolve("storage/images"));
        for (Path image : images) {
            Path target = dir.resolve("storage/images").resolve(image.getFileName());
            if (!Files.exists(target)) {
                Files.copy(image, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        List<String> m = List.of("--data-dir", dir.resolve("manager").toString(), "--port", "0", "--agent-port", "0",
                "--guest-port-range", guestPortFrom + "-" + (guestPortFrom + 199), "--host-timeout-ms", "4000");
        List<String> a = new ArrayList<>(List.of("--state-dir", dir.resolve("agent").toString(), "--storage-dir",
                dir.resolve("storage").toString(), "--port", "0", "--accel", "tcg", "--host-name", "lab-host"));
        Lab lab = new Lab(dir, m, a);
        try {
            lab.startManager();
            lab.startAgent();
            lab.awaitHostConnected();
        } catch (RuntimeException | IOException e) {
            lab.close();
            throw e;
        }
        return lab;
    }

    public Path dir() {
        return dir;
    }

    public Http api() {
        return http;
    }

    public String managerUrl() {
        return "http://127.0.0.1:" + managerPort;
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
                dir.resolve("log/manager.log"));
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
        agentUrl = Files.readString(dir.resolve("manager/agent.url")).strip();
        http = new Http(managerUrl());
    }

    /**
     * Starts the agent process (it re-adopts VMs that still run). On its first start it enrolls with a new
     * join token; later starts use the certificate it keeps.
     */
    public void startAgent() throws IOException {
        List<String> args = new ArrayList<>(agentArgs);
        args.addAll(List.of("--manager-url", agentUrl));
        if (!Files.exists(dir.resolve("agent/tls/agent.crt"))) {
            JsonNode token = http.post("/api/v1/hosts/join-tokens", "{\"ttlMinutes\":10}").json();
            args.addAll(List.of("--join-token", token.path("token").asText(), "--ca-fingerprint",
                    token.path("caFingerprint").asText()));
        }
        agent = JavaProcess.start("agent", "org.carevisor.agent.AgentMain", args, dir.resolve("log/agent.log"));
    }

    /** Reconnects a restarted manager's agent (the agent was told the manager's URL at start). */
    public void awaitHostConnected() {
        Poll.until(Duration.ofSeconds(60), "the host to report to the manager (see " + dir.resolve("log") + ")",
                () -> http.get("/api/v1/health").json().path("hosts").path("connected").asInt() >= 1);
    }

    public JavaProcess manager() {
        return manager;
    }

    public JavaProcess agent() {
        return agent;
    }

    /** The agent's API endpoint (its port is chosen at start). */
    public String agentEndpoint() throws IOException {
        return Files.readString(dir.resolve("agent/agent.endpoint")).strip();
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

    /** Probes the guest service of a running VM. */
    public GuestProbe guest(String vm) {
        JsonNode v = vm(vm);
        return new GuestProbe("127.0.0.1", v.path("guestPort").asInt());
    }

    /** The QEMU pid the agent recorded for a VM. */
    public long qemuPid(String vmId) throws IOException {
        return Long.parseLong(Files.readString(dir.resolve("agent/vms/" + vmId + "/qemu.pid")).strip());
    }

    @Override
    public void close() {
        try {
            if (agent != null) {
                agent.close();
            }
            if (manager != null) {
                manager.close();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            QemuProcesses.killAll(dir.toString());
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
