package org.carevisor.manager.host;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.carevisor.protocol.ActivateRequest;
import org.carevisor.protocol.AgentProblem;
import org.carevisor.protocol.IncomingRequest;
import org.carevisor.protocol.IncomingResponse;
import org.carevisor.protocol.MigrationFinish;
import org.carevisor.protocol.MigrationRequest;
import org.carevisor.protocol.MigrationStatus;
import org.carevisor.protocol.ChecksumRequest;
import org.carevisor.protocol.ChecksumResult;
import org.carevisor.protocol.DiskSnapshotRequest;
import org.carevisor.protocol.ExportRequest;
import org.carevisor.protocol.ExportResult;
import org.carevisor.protocol.FileMoveRequest;
import org.carevisor.protocol.ImportRequest;
import org.carevisor.protocol.ImportResult;
import org.carevisor.protocol.SnapshotRequest;
import org.carevisor.protocol.SnapshotResult;
import org.carevisor.protocol.ConsoleChunk;
import org.carevisor.protocol.DiskCreateRequest;
import org.carevisor.protocol.ImageInfo;
import org.carevisor.protocol.Protocol;
import org.carevisor.protocol.ProtocolJson;
import org.carevisor.protocol.ShutdownRequest;
import org.carevisor.protocol.VmSpec;
import org.carevisor.protocol.VmStatus;

/** Calls agents over the versioned agent protocol. Thread-safe. */
public final class AgentClient {
    private static final ObjectMapper JSON = ProtocolJson.mapper();
    private static final Duration SHORT = Duration.ofSeconds(15);
    private static final Duration START = Duration.ofSeconds(40);
    private static final Duration DISK = Duration.ofHours(6);
    private static final Duration LONG = Duration.ofMinutes(35);

    private final HttpClient http;

    /** A client that presents the manager's certificate and trusts only the Carevisor CA. */
    public AgentClient(javax.net.ssl.SSLContext tls) {
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).sslContext(tls).build();
    }

    public VmStatus start(String endpoint, VmSpec spec) {
        return call(endpoint, "POST", "/vms/" + spec.id() + "/start", spec, VmStatus.class, START);
    }

    public VmStatus shutdown(String endpoint, String vmId, int timeoutSeconds) {
        return call(endpoint, "POST", "/vms/" + vmId + "/shutdown", new ShutdownRequest(timeoutSeconds),
                VmStatus.class, SHORT);
    }

    public VmStatus powerOff(String endpoint, String vmId) {
        return call(endpoint, "POST", "/vms/" + vmId + "/poweroff", null, VmStatus.class, SHORT);
    }

    public VmStatus reset(String endpoint, String vmId) {
        return call(endpoint, "POST", "/vms/" + vmId + "/reset", null, VmStatus.class, SHORT);
    }

    public VmStatus pause(String endpoint, String vmId) {
        return call(endpoint, "POST", "/vms/" + vmId + "/pause", null, VmStatus.class, SHORT);
    }

    public VmStatus resume(String endpoint, String vmId) {
        return call(endpoint, "POST", "/vms/" + vmId + "/resume", null, VmStatus.class, SHORT);
    }

    /** Forgets a stopped VM on the host (its runtime files and console log); 404 is not an error. */
    public void undefine(String endpoint, String vmId) {
        try {
            call(endpoint, "DELETE", "/vms/" + vmId, null, Void.class, SHORT);
        } catch (AgentCallException e) {
            if (e.status() != 404) {
                throw e;
            }
        }
    }

    public ConsoleChunk console(String endpoint, String vmId, long offset, int max) {
        return call(endpoint, "GET", "/vms/" + vmId + "/console?offset=" + offset + "&max=" + max, null,
                ConsoleChunk.class, SHORT);
    }

    public List<ImageInfo> images(String endpoint) {
        return call(endpoint, "GET", "/images", null, JSON.getTypeFactory().constructType(
                new TypeReference<List<ImageInfo>>() { }), SHORT);
    }

    public ImageInfo createDisk(String endpoint, DiskCreateRequest request) {
        return call(endpoint, "POST", "/disks", request, ImageInfo.class, DISK);
    }

    /** Snapshot of a running VM (with memory or disk-only). */
    public SnapshotResult snapshot(String endpoint, String vmId, String tag, String name, boolean memory) {
        return call(endpoint, "POST", "/vms/" + vmId + "/snapshots", new SnapshotRequest(tag, memory, name),
                SnapshotResult.class, LONG);
    }

    /** Reverts a running VM to a snapshot with memory, live. */
    public SnapshotResult loadSnapshot(String endpoint, String vmId, String tag, String name) {
        return call(endpoint, "POST", "/vms/" + vmId + "/snapshots/load", new SnapshotRequest(tag, true, name),
                SnapshotResult.class, LONG);
    }

    /** Deletes a snapshot from the disks of a running VM. */
    public SnapshotResult deleteSnapshot(String endpoint, String vmId, String tag) {
        return call(endpoint, "POST", "/vms/" + vmId + "/snapshots/delete", new SnapshotRequest(tag, false, null),
                SnapshotResult.class, LONG);
    }

    /** Creates, applies or deletes a snapshot in the disk files of a stopped VM. */
    public void diskSnapshot(String endpoint, List<String> paths, String tag, DiskSnapshotRequest.Op op) {
        call(endpoint, "POST", "/disk-snapshots", new DiskSnapshotRequest(paths, tag, op), Void.class, LONG);
    }

    public ImageInfo move(String endpoint, FileMoveRequest request) {
        return call(endpoint, "POST", "/files/move", request, ImageInfo.class, DISK);
    }

    public ChecksumResult checksums(String endpoint, List<String> paths) {
        return call(endpoint, "POST", "/files/checksums", new ChecksumRequest(paths), ChecksumResult.class, DISK);
    }

    /** Deletes a file or directory below a top-level storage directory; a missing one is not an error. */
    public void deleteFiles(String endpoint, String path) {
        call(endpoint, "DELETE", "/files?path=" + encode(path), null, Void.class, SHORT);
    }

    public ExportResult export(String endpoint, ExportRequest request) {
        return call(endpoint, "POST", "/exports", request, ExportResult.class, DISK);
    }

    /** The verified manifest of an export file (its disks are not read). */
    public String inspectImport(String endpoint, String source) {
        return call(endpoint, "POST", "/imports/inspect", new ImportRequest(source, null), ImportResult.class, DISK)
                .manifest();
    }

    public ImportResult importFile(String endpoint, ImportRequest request) {
        return call(endpoint, "POST", "/imports", request, ImportResult.class, DISK);
    }

    /**
     * Asks for an ACPI shutdown because the host (or the site) goes down: the VM's stop cause becomes host-shutdown,
     * so it starts again in start order when its host is back. Returns at once; the VM stops within the timeout.
     */
    public VmStatus shutdownForHost(String endpoint, String vmId, int timeoutSeconds) {
        return call(endpoint, "POST", "/vms/" + vmId + "/shutdown", new ShutdownRequest(timeoutSeconds, true),
                VmStatus.class, SHORT);
    }

    /** Makes the host refuse (true) or accept again (false) VM starts and incoming migrations. */
    public List<VmStatus> drain(String endpoint, boolean drain) {
        return call(endpoint, "POST", "/host/drain", new org.carevisor.protocol.DrainRequest(drain),
                JSON.getTypeFactory().constructType(new TypeReference<List<VmStatus>>() { }), SHORT);
    }

    /** Asks the host to do its configured power-off action (refused while a VM runs there or it is not drained). */
    public org.carevisor.protocol.PowerOffAnswer powerOffHost(String endpoint) {
        return call(endpoint, "POST", "/host/power-off", null, org.carevisor.protocol.PowerOffAnswer.class, SHORT);
    }

    /** Shuts down every VM of the host (it reports "shutting down" meanwhile) and waits until they stopped. */
    public List<VmStatus> stopAll(String endpoint, int timeoutSeconds) {
        return call(endpoint, "POST", "/host/stop-all-vms", new ShutdownRequest(timeoutSeconds),
                JSON.getTypeFactory().constructType(new TypeReference<List<VmStatus>>() { }),
                Duration.ofSeconds(timeoutSeconds + 60L));
    }

    // ---- live migration (see VmSupervisor on the agent for the protocol)

    /**
     * Starts the destination QEMU (paused, listening over TLS for the stream of host {@code sourceHostId} only);
     * returns where the source must send to.
     */
    public IncomingResponse incoming(String endpoint, VmSpec spec, String sourceHostId) {
        return call(endpoint, "POST", "/vms/" + spec.id() + "/incoming", new IncomingRequest(spec, sourceHostId),
                IncomingResponse.class, START);
    }

    /** Lets the guest run on the destination: the point of no return of a migration. */
    public VmStatus activate(String endpoint, String vmId, boolean run, long waitMs) {
        return call(endpoint, "POST", "/vms/" + vmId + "/incoming/activate", new ActivateRequest(run, waitMs),
                VmStatus.class, Duration.ofMillis(waitMs).plus(SHORT));
    }

    /** Ends a destination whose guest never ran there. */
    public VmStatus abortIncoming(String endpoint, String vmId) {
        return call(endpoint, "DELETE", "/vms/" + vmId + "/incoming", null, VmStatus.class, SHORT);
    }

    public MigrationStatus migrate(String endpoint, String vmId, MigrationRequest request) {
        return call(endpoint, "POST", "/vms/" + vmId + "/migration", request, MigrationStatus.class, SHORT);
    }

    /** Progress; waits up to {@code waitMs} for the status to differ from {@code after}. */
    public MigrationStatus migrationStatus(String endpoint, String vmId, long waitMs, String after) {
        return call(endpoint, "GET", "/vms/" + vmId + "/migration?waitMs=" + waitMs
                        + (after == null ? "" : "&after=" + encode(after)), null, MigrationStatus.class,
                Duration.ofMillis(waitMs).plus(SHORT));
    }

    public MigrationStatus cancelMigration(String endpoint, String vmId) {
        return call(endpoint, "POST", "/vms/" + vmId + "/migration/cancel", null, MigrationStatus.class, SHORT);
    }

    /** Ends the migration on the source: hand over (QEMU ends there) or resume there. */
    public VmStatus finishMigration(String endpoint, String vmId, String outcome) {
        return call(endpoint, "POST", "/vms/" + vmId + "/migration/finish", new MigrationFinish(outcome),
                VmStatus.class, Duration.ofSeconds(40));
    }

    /** The VM as one host sees it; null when the host does not know it. */
    public VmStatus status(String endpoint, String vmId) {
        try {
            return call(endpoint, "GET", "/vms/" + vmId, null, VmStatus.class, SHORT);
        } catch (AgentCallException e) {
            if (e.status() == 404) {
                return null;
            }
            throw e;
        }
    }

    public void deleteVmDisks(String endpoint, String vmId) {
        call(endpoint, "DELETE", "/vm-disks/" + vmId, null, Void.class, SHORT);
    }

    private <T> T call(String endpoint, String method, String path, Object body, Class<T> type, Duration timeout) {
        return call(endpoint, method, path, body, JSON.getTypeFactory().constructType(type), timeout);
    }

    private <T> T call(String endpoint, String method, String path, Object body, JavaType type, Duration timeout) {
        String url = endpoint + Protocol.PREFIX + path;
        try {
            HttpRequest.BodyPublisher publisher = body == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body));
            HttpRequest request = HttpRequest.newBuilder(URI.create(url)).timeout(timeout)
                    .header(Protocol.VERSION_HEADER, Integer.toString(Protocol.VERSION))
                    .header("Content-Type", "application/json")
                    .method(method, publisher).build();
            HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
            String version = response.headers().firstValue(Protocol.VERSION_HEADER).orElse(null);
            if (!Integer.toString(Protocol.VERSION).equals(version)) {
                throw new AgentCallException(502, "protocol-version-mismatch", "the agent at " + endpoint
                        + " speaks protocol " + version + ", the manager speaks " + Protocol.VERSION
                        + "; upgrade the agent or the manager");
            }
            int status = response.statusCode();
            if (status / 100 != 2) {
                AgentProblem problem;
                try {
                    problem = JSON.readValue(response.body(), AgentProblem.class);
                } catch (IOException e) {
                    problem = new AgentProblem(status, "agent-error", new String(response.body(), StandardCharsets.UTF_8));
                }
                throw new AgentCallException(status, problem.code(), problem.detail());
            }
            if (type.getRawClass() == Void.class || response.body().length == 0) {
                return null;
            }
            return JSON.readValue(response.body(), type);
        } catch (java.net.ConnectException | java.net.http.HttpConnectTimeoutException
                 | javax.net.ssl.SSLHandshakeException e) {
            throw new AgentCallException(0, "agent-unreachable", "cannot reach the agent at " + endpoint + " ("
                    + method + " " + path + "): " + e, false);
        } catch (IOException e) {
            throw new AgentCallException(0, "agent-unreachable", "no answer from the agent at " + endpoint + " ("
                    + method + " " + path + "): " + e, true);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentCallException(0, "interrupted", "interrupted while calling " + url);
        }
    }

    static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
