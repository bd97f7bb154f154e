package org.carevisor.manager.ha.fence;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import javax.net.ssl.SSLContext;

/**
 * Fencing through a BMC's Redfish API over HTTPS: {@code POST /redfish/v1/Systems/{id}/Actions/
 * ComputerSystem.Reset} with {@code ForceOff}, then {@code GET /redfish/v1/Systems/{id}} until
 * {@code PowerState} is {@code Off}. The BMC's certificate is checked against {@code ssl} (a context that
 * trusts the BMC's CA or its pinned certificate).
 */
public final class RedfishFenceAgent implements FenceAgent {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final URI base;
    private final String system;
    private final String authorization;
    private final HttpClient http;

    public RedfishFenceAgent(URI base, String system, String user, String password, SSLContext ssl) {
        this.base = URI.create(base.toString().replaceAll("/+$", ""));
        this.system = system;
        this.authorization = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password)
                .getBytes(StandardCharsets.UTF_8));
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3));
        if (ssl != null) {
            b.sslContext(ssl);
        }
        this.http = b.build();
    }

    @Override
    public String describe() {
        return "redfish " + base.getHost();
    }

    @Override
    public Result powerOff(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String systemUri = base + "/redfish/v1/Systems/" + system;
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(systemUri
                            + "/Actions/ComputerSystem.Reset")).timeout(Duration.ofSeconds(10))
                    .header("Authorization", authorization).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"ResetType\":\"ForceOff\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() / 100 != 2) {
                return Result.failed("Redfish ForceOff at " + base.getHost() + " answered " + r.statusCode()
                        + (r.statusCode() == 401 ? " (user or password wrong)" : ""));
            }
            String state = "?";
            while (System.nanoTime() < deadline) {
                HttpResponse<String> s = http.send(HttpRequest.newBuilder(URI.create(systemUri))
                        .timeout(Duration.ofSeconds(10)).header("Authorization", authorization).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                if (s.statusCode() == 200) {
                    JsonNode n = JSON.readTree(s.body());
                    state = n.path("PowerState").asText("?");
                    if (state.equals("Off")) {
                        return Result.off("Redfish " + base.getHost() + " system " + system + " PowerState Off");
                    }
                }
                Thread.sleep(500);
            }
            return Result.failed("Redfish " + base.getHost() + " did not report PowerState Off within "
                    + timeout.toSeconds() + " s (last: " + state + ")");
        } catch (IOException e) {
            return Result.failed("Redfish " + base.getHost() + " unreachable: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Result.failed("interrupted");
        }
    }
}
