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
import org.carevisor.protocol.AgentProblem;
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

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

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
        } catch (IOException e) {
            throw new AgentCallException(0, "agent-unreachable", "cannot reach the agent at " + endpoint + " ("
                    + method + " " + path + "): " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentCallException(0, "interrupted", "interrupted while calling " + url);
        }
    }

    static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
