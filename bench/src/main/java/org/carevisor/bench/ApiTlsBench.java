package org.carevisor.bench;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import org.carevisor.manager.Manager;
import org.carevisor.manager.ManagerConfig;
import org.carevisor.testkit.Http;
import org.carevisor.testkit.Lab;

/**
 * What HTTPS costs the API, against the same manager serving plain HTTP on loopback in the same run (the bare
 * case): an authenticated {@code GET /api/v1/vms} on a kept-alive connection (the CLI's and web console's
 * pattern), and {@code GET /api/v1/health} on a new connection each time (a full TLS handshake, the pattern of
 * scripts calling curl). Prints a Markdown table for docs/benchmarks.md.
 * Usage: ApiTlsBench [requests per case (default 500)]
 */
public final class ApiTlsBench {
    private ApiTlsBench() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 500;
        System.setProperty("carevisor.admin-password", Lab.ADMIN_PASSWORD);
        Path work = Files.createTempDirectory("carevisor-tls-bench");
        System.out.printf("API over HTTPS vs plain HTTP, same manager build, loopback, %d requests per case, %d CPUs%n",
                n, Runtime.getRuntime().availableProcessors());
        Result plain;
        Result tls;
        try (Manager m = start(work.resolve("plain/manager"), "--plain-http", "true")) {
            plain = measure(new Http("http://127.0.0.1:" + m.port()), m.port(), null, n);
        }
        try (Manager m = start(work.resolve("tls/manager"))) {
            Path ca = Http.managerCa(work.resolve("tls/manager"));
            tls = measure(Http.forManager(work.resolve("tls/manager"), m.port()), m.port(), Http.sslContext(ca), n);
        }
        System.out.println();
        System.out.println("| case | plain HTTP p50 / p95 ms | HTTPS p50 / p95 ms | ratio p50 |");
        System.out.println("|---|---|---|---|");
        row("GET /api/v1/vms, kept-alive connection", plain.keepAlive, tls.keepAlive);
        row("GET /api/v1/health, new connection each (TLS handshake)", plain.fresh, tls.fresh);
    }

    private record Result(Stats keepAlive, Stats fresh) {
    }

    private static Manager start(Path dir, String... extra) throws Exception {
        List<String> a = new ArrayList<>(List.of("--data-dir", dir.toString(), "--port", "0", "--agent-port", "0"));
        a.addAll(List.of(extra));
        return Manager.start(ManagerConfig.parse(a.toArray(String[]::new), Map.of()));
    }

    private static Result measure(Http anonymous, int port, SSLContext tls, int n) throws Exception {
        Http api = anonymous.login(Lab.ADMIN, Lab.ADMIN_PASSWORD);
        for (int i = 0; i < 50; i++) { // warm-up: JIT, TLS session setup
            api.get("/api/v1/vms").expect(200);
            fresh(port, tls);
        }
        List<Double> keep = new ArrayList<>();
        List<Double> fresh = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            api.get("/api/v1/vms").expect(200);
            keep.add((System.nanoTime() - t0) / 1e6);
            long t1 = System.nanoTime();
            fresh(port, tls);
            fresh.add((System.nanoTime() - t1) / 1e6);
        }
        return new Result(new Stats(keep), new Stats(fresh));
    }

    /** One request on a new connection (TLS: a new handshake; the JDK client resumes no session here). */
    private static void fresh(int port, SSLContext tls) throws Exception {
        try (Socket s = tls == null ? new Socket("127.0.0.1", port)
                : tls.getSocketFactory().createSocket("127.0.0.1", port)) {
            OutputStream out = s.getOutputStream();
            out.write(("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[8192];
            String head = null;
            while (in.read(buf) >= 0) {
                if (head == null) {
                    head = new String(buf, 0, 12, StandardCharsets.US_ASCII);
                }
            }
            if (head == null || !head.startsWith("HTTP/1.1 200")) {
                throw new IllegalStateException("unexpected answer: " + head);
            }
        }
    }

    private static void row(String name, Stats plain, Stats tls) {
        System.out.printf("| %s | %.2f / %.2f | %.2f / %.2f | %.2f |%n", name, plain.p(50), plain.p(95), tls.p(50),
                tls.p(95), tls.p(50) / plain.p(50));
    }
}
