package org.carevisor.testkit;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real Network UPS Tools server for tests: Debian's {@code upsd} (package nut-server) with its {@code dummy-ups}
 * driver, in a directory of their own (configuration, state sockets, the driver's {@code .dev} file), listening on
 * 127.0.0.1 only. {@link #status} rewrites the simulated UPS's variables; the driver reads the file again when it
 * changes (within its poll interval of one second), so "on battery" and "battery low" reach upsd as from a real
 * UPS. Nothing of the system's NUT configuration is used. {@link #close()} stops both processes.
 */
public final class NutServer implements AutoCloseable {
    private static final Path UPSD = Path.of("/lib/nut/upsd");
    private static final Path DUMMY = Path.of("/lib/nut/dummy-ups");

    private final Path dir;
    private final String ups;
    private final int port;
    private final List<Process> processes = new ArrayList<>();

    private NutServer(Path dir, String ups, int port) {
        this.dir = dir;
        this.ups = ups;
        this.port = port;
    }

    /** Starts a driver for UPS {@code ups} (mains power, charged) and upsd in front of it, under {@code dir}. */
    public static NutServer start(Path dir, String ups) throws IOException {
        if (!Files.isExecutable(UPSD) || !Files.isExecutable(DUMMY)) {
            throw new IllegalStateException("Network UPS Tools is not installed: apt-get install nut-server"
                    + " (./carevisor test installs it)");
        }
        Path state = dir.resolve("state");
        Files.createDirectories(state);
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        NutServer n = new NutServer(dir, ups, port);
        n.status("OL", 100, 3600);
        Files.writeString(dir.resolve("ups.conf"), """
                [%s]
                  driver = dummy-ups
                  port = %s
                  pollinterval = 1
                  desc = "Carevisor test UPS"
                """.formatted(ups, dir.resolve(ups + ".dev")), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("upsd.conf"), "LISTEN 127.0.0.1 " + port + "\n", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("upsd.users"), "", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("nut.conf"), "MODE=standalone\n", StandardCharsets.UTF_8);
        boolean root = "root".equals(System.getProperty("user.name"));
        try {
            List<String> driver = new ArrayList<>(List.of(DUMMY.toString(), "-a", ups, "-F"));
            List<String> upsd = new ArrayList<>(List.of(UPSD.toString(), "-F"));
            if (root) {
                driver.addAll(List.of("-u", "root"));
                upsd.addAll(List.of("-u", "root"));
            }
            n.processes.add(n.spawn(driver, "driver.log"));
            Poll.until(Duration.ofSeconds(20), "the dummy-ups driver to start (see " + dir.resolve("driver.log")
                    + ")", () -> {
                        try (var files = Files.list(state)) {
                            return files.anyMatch(f -> f.getFileName().toString().startsWith("dummy-ups-")) ? true
                                    : null;
                        } catch (IOException e) {
                            return null;
                        }
                    });
            n.processes.add(n.spawn(upsd, "upsd.log"));
            Poll.until(Duration.ofSeconds(20), "upsd to serve UPS " + ups + " (see " + dir.resolve("upsd.log") + ")",
                    () -> n.variable("ups.status").equals("OL") ? true : null);
            return n;
        } catch (RuntimeException | IOException e) {
            n.close();
            throw e;
        }
    }

    private Process spawn(List<String> command, String log) throws IOException {
        ProcessBuilder b = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(log).toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        b.environment().put("NUT_CONFPATH", dir.toString());
        b.environment().put("NUT_STATEPATH", dir.resolve("state").toString());
        b.environment().put("NUT_ALTPIDPATH", dir.resolve("state").toString());
        return b.start();
    }

    /** Sets the simulated UPS's status flags (e.g. {@code OL}, {@code OB}, {@code OB LB}), charge and runtime. */
    public void status(String flags, int chargePercent, int runtimeSeconds) throws IOException {
        Path dev = dir.resolve(ups + ".dev");
        Path tmp = dir.resolve(ups + ".dev.tmp");
        Files.writeString(tmp, "ups.status: " + flags + "\nbattery.charge: " + chargePercent + "\nbattery.runtime: "
                + runtimeSeconds + "\nups.mfr: Carevisor tests\n", StandardCharsets.UTF_8);
        // dummy-ups notices a change by the file's modification time in whole seconds: each write gets a later one
        long second = Math.max(System.currentTimeMillis() / 1000, lastWrite + 1);
        lastWrite = second;
        Files.setLastModifiedTime(tmp, java.nio.file.attribute.FileTime.fromMillis(second * 1000));
        Files.move(tmp, dev, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private long lastWrite;

    /** One variable as upsd serves it now ({@code GET VAR}), or "" when it cannot be read. */
    public String variable(String name) {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
            s.setSoTimeout(2000);
            s.getOutputStream().write(("GET VAR " + ups + " " + name + "\n").getBytes(StandardCharsets.US_ASCII));
            String line = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                    StandardCharsets.US_ASCII)).readLine();
            return line != null && line.startsWith("VAR ") ? line.replaceAll("^VAR \\S+ \\S+ \"(.*)\"$", "$1") : "";
        } catch (IOException e) {
            return "";
        }
    }

    /** Waits until upsd serves {@code flags} as ups.status (the driver polls its file every second). */
    public void awaitStatus(String flags) {
        Poll.until(Duration.ofSeconds(20), "upsd to report " + flags, () -> variable("ups.status").equals(flags)
                ? true : null);
    }

    /** {@code NAME@127.0.0.1:PORT}, as the manager's --ups takes it. */
    public String target() {
        return ups + "@127.0.0.1:" + port;
    }

    public int port() {
        return port;
    }

    /** Stops upsd and the driver (and waits for them). */
    public void stop() {
        close();
    }

    @Override
    public void close() {
        for (Process p : processes) {
            p.destroy();
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        processes.clear();
    }
}
