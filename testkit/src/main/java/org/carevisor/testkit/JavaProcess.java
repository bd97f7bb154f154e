package org.carevisor.testkit;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Carevisor component (manager or agent) started as its own JVM process with the test's classpath,
 * so tests can kill it (-9), freeze it or restart it like a real deployment.
 */
public final class JavaProcess implements AutoCloseable {
    private final Process process;
    private final Path log;

    private JavaProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /**
     * Starts {@code mainClass} with the JVM options of {@code component} from the repository's
     * {@code jvm/<component>.options}, the same file ./carevisor up uses.
     */
    public static JavaProcess start(String component, String mainClass, List<String> args, Path log)
            throws IOException {
        return start(component, mainClass, args, log, List.of());
    }

    /**
     * The same, run through {@code prefix} (e.g. {@code ip netns exec NS}, which execs the JVM in the
     * namespace: the process is the JVM itself).
     */
    public static JavaProcess start(String component, String mainClass, List<String> args, Path log,
                                    List<String> prefix) throws IOException {
        return start(component, mainClass, args, log, prefix, java.util.Map.of());
    }

    /** The same with extra environment variables. */
    public static JavaProcess start(String component, String mainClass, List<String> args, Path log,
                                    List<String> prefix, java.util.Map<String, String> env) throws IOException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions(component));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        Process p = pb.redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        return new JavaProcess(p, log);
    }

    /** The options in jvm/<component>.options of the repository. */
    static List<String> jvmOptions(String component) throws IOException {
        return java.nio.file.Files.readAllLines(repositoryFile("jvm/" + component + ".options")).stream()
                .map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
    }

    /** A file of the repository, found by walking up from the working directory. */
    static Path repositoryFile(String relative) throws IOException {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path file = dir.resolve(relative);
            if (java.nio.file.Files.exists(file)) {
                return file;
            }
        }
        throw new IOException(relative + " not found above " + Path.of("").toAbsolutePath());
    }

    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process.isAlive();
    }

    public Path log() {
        return log;
    }

    /** Waits up to {@code limit} for the process to end and returns its exit code (-1 when it still runs). */
    public int awaitExit(java.time.Duration limit) throws InterruptedException {
        return process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    }

    /** Kills the process like a power loss of the component (SIGKILL). */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** Stops the process normally (SIGTERM), then kills it if it does not end. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                kill();
            }
        }
    }
}
