package org.carevisor.testkit;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real, throwaway PostgreSQL server on 127.0.0.1 for storage tests: a new cluster in a temporary
 * directory, started with Debian's binaries (as the postgres user when the tests run as root), removed on
 * {@link #close()}. Fails with a clear message when PostgreSQL is not installed.
 */
public final class PostgresServer implements AutoCloseable {
    private final Path dir;
    private final Path bin;
    private final int port;
    private final boolean asRoot;

    private PostgresServer(Path dir, Path bin, int port, boolean asRoot) {
        this.dir = dir;
        this.bin = bin;
        this.port = port;
        this.asRoot = asRoot;
    }

    public static PostgresServer start() throws IOException, InterruptedException {
        Path bin = findBin();
        boolean root = "root".equals(System.getProperty("user.name"));
        Path dir = Files.createTempDirectory("carevisor-pg");
        dir.toFile().setReadable(true, false);
        dir.toFile().setExecutable(true, false);
        Path data = dir.resolve("data");
        Path sockets = dir.resolve("sockets");
        Files.createDirectories(sockets);
        if (root) {
            run(List.of("chown", "-R", "postgres:postgres", dir.toString()), false);
        }
        int port = freePort();
        PostgresServer server = new PostgresServer(dir, bin, port, root);
        run(server.as(List.of(bin.resolve("initdb").toString(), "-D", data.toString(), "-A", "trust", "-U",
                "carevisor", "--no-sync", "-E", "UTF8")), true);
        run(server.as(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l",
                dir.resolve("server.log").toString(), "-w", "-t", "60", "-o",
                "-c listen_addresses=127.0.0.1 -p " + port + " -k " + sockets + " -c fsync=off", "start")), true);
        run(server.as(List.of(bin.resolve("createdb").toString(), "-h", "127.0.0.1", "-p",
                Integer.toString(port), "-U", "carevisor", "carevisor")), true);
        return server;
    }

    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/carevisor";
    }

    public String user() {
        return "carevisor";
    }

    /** Runs a SQL statement with psql (for tests that change the database behind the manager's back). */
    public String psql(String sql) throws IOException, InterruptedException {
        return run(List.of(bin.resolve("psql").toString(), "-h", "127.0.0.1", "-p", Integer.toString(port), "-U",
                "carevisor", "-d", "carevisor", "-At", "-c", sql), true);
    }

    private List<String> as(List<String> command) {
        if (!asRoot) {
            return command;
        }
        List<String> c = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
        c.addAll(command);
        return c;
    }

    private static Path findBin() throws IOException {
        Path base = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(base)) {
            try (Stream<Path> versions = Files.list(base)) {
                Path newest = versions.filter(p -> Files.isExecutable(p.resolve("bin/pg_ctl")))
                        .max(Comparator.comparing(p -> Integer.parseInt(p.getFileName().toString().replaceAll("\\D", "0"))))
                        .orElse(null);
                if (newest != null) {
                    return newest.resolve("bin");
                }
            }
        }
        throw new IllegalStateException("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl); "
                + "./carevisor test installs the Debian package 'postgresql'");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static String run(List<String> command, boolean check) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " timed out");
        }
        if (check && p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed (" + p.exitValue() + "): " + out);
        }
        return out.strip();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        try {
            run(as(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m",
                    "immediate", "-w", "stop")), false);
        } finally {
            Files.walk(dir).sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
