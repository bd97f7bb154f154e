package org.carevisor.itest.docs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Where a document's commands run: one bash for the whole document (so that {@code CA=...} of one command is there
 * for the next, as in the reader's terminal), started in the document's sandbox; commands that ask for a password
 * run in a terminal of their own ({@code script}), typed at as a person would. Every process it starts ends with
 * {@link #close()}; what detached processes the commands start (a manager, agents, QEMU) is the runner's to stop.
 */
final class DocShell implements AutoCloseable {
    /** How a run ended: its exit code (-1 when it ran out of time) and its output, terminal escapes removed. */
    record Result(int exit, String output, boolean timedOut) {
    }

    private final Path root;
    private final Path work;
    private final Map<String, String> env;
    private final Process bash;
    private final OutputStream toBash;
    private int count;

    DocShell(Path root, Path work, Map<String, String> env) throws IOException {
        this.root = root;
        this.work = work;
        this.env = env;
        Files.createDirectories(work);
        ProcessBuilder pb = new ProcessBuilder("bash", "--noprofile", "--norc").directory(root.toFile())
                .redirectErrorStream(true).redirectOutput(work.resolve("shell.log").toFile());
        pb.environment().clear();
        pb.environment().putAll(env);
        bash = pb.start();
        toBash = bash.getOutputStream();
    }

    /** Runs {@code command} in the document's shell (variables it sets stay set). */
    Result run(String command, Duration timeout) throws IOException {
        int n = ++count;
        Path script = work.resolve("cmd-" + n + ".sh");
        Path out = work.resolve("out-" + n + ".txt");
        Path rc = work.resolve("rc-" + n);
        Files.writeString(script, command + "\n");
        String line = "source '" + script + "' </dev/null >'" + out + "' 2>&1; echo $? >'" + rc + ".tmp'; mv -f '"
                + rc + ".tmp' '" + rc + "'\n";
        toBash.write(line.getBytes(StandardCharsets.UTF_8));
        toBash.flush();
        Instant end = Instant.now().plus(timeout);
        while (!Files.exists(rc)) {
            if (!bash.isAlive()) {
                throw new IllegalStateException("the document's shell ended (see " + work.resolve("shell.log") + ")");
            }
            if (Instant.now().isAfter(end)) {
                bash.descendants().forEach(ProcessHandle::destroyForcibly);
                return new Result(-1, read(out), true);
            }
            sleep(100);
        }
        return new Result(Integer.parseInt(Files.readString(rc).strip()), read(out), false);
    }

    /** Sets a shell variable (a value saved from an output) for the commands that follow. */
    void set(String name, String value) throws IOException {
        run(name + "='" + value.replace("'", "'\\''") + "'", Duration.ofSeconds(10));
    }

    /**
     * Runs {@code command} in a terminal of its own: each prompt is awaited in the output, in order, and its text
     * typed with Enter. Shell variables of the document's shell are not there (the environment is).
     */
    Result runInTerminal(String command, List<Expectations.Typing> typing, Map<String, String> vars, Duration timeout)
            throws IOException {
        ProcessBuilder pb = new ProcessBuilder("script", "-qefc", command, "/dev/null").directory(root.toFile())
                .redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().putAll(env);
        pb.environment().putAll(vars);
        Process p = pb.start();
        StringBuilder output = new StringBuilder();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            byte[] buf = new byte[4096];
            try (InputStream in = p.getInputStream()) {
                for (int r; (r = in.read(buf)) > 0; ) {
                    synchronized (output) {
                        output.append(new String(buf, 0, r, StandardCharsets.UTF_8));
                    }
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        Instant end = Instant.now().plus(timeout);
        int from = 0;
        try (OutputStream keys = p.getOutputStream()) {
            for (Expectations.Typing t : typing) {
                int at;
                while ((at = indexOf(output, t.prompt(), from)) < 0) {
                    if (!p.isAlive() || Instant.now().isAfter(end)) {
                        return finish(p, reader, output, end, "the prompt '" + t.prompt() + "' never came");
                    }
                    sleep(50);
                }
                from = at + t.prompt().length();
                sleep(150); // the program turns echo off after printing its prompt
                keys.write((resolve(t.text(), vars) + "\n").getBytes(StandardCharsets.UTF_8));
                keys.flush();
            }
            return finish(p, reader, output, end, null);
        }
    }

    private static Result finish(Process p, Thread reader, StringBuilder output, Instant end, String problem) {
        boolean done;
        try {
            done = problem == null && p.waitFor(Math.max(1, Duration.between(Instant.now(), end).toMillis()),
                    java.util.concurrent.TimeUnit.MILLISECONDS);
            if (!done) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor();
            }
            reader.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        String text;
        synchronized (output) {
            text = clean(output.toString());
        }
        if (problem != null) {
            text = text + "\n[doc run: " + problem + "]";
        }
        return new Result(done ? p.exitValue() : -1, text, !done);
    }

    /** {@code ${NAME}} from {@code vars}, {@code ${file:PATH}} the first line of a file of the sandbox. */
    String resolve(String text, Map<String, String> vars) throws IOException {
        StringBuilder out = new StringBuilder();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\$\\{([^}]+)}").matcher(text);
        int last = 0;
        while (m.find()) {
            out.append(text, last, m.start());
            String name = m.group(1);
            String value;
            if (name.startsWith("file:")) {
                Path f = root.resolve(name.substring(5)).normalize();
                if (!f.startsWith(root)) {
                    throw new IllegalArgumentException(name + " is outside the sandbox");
                }
                value = Files.readAllLines(f).get(0).strip();
            } else {
                value = vars.get(name);
                if (value == null) {
                    throw new IllegalArgumentException("${" + name + "} was not saved before");
                }
            }
            out.append(value);
            last = m.end();
        }
        return out.append(text.substring(last)).toString();
    }

    private static int indexOf(StringBuilder output, String what, int from) {
        synchronized (output) {
            return output.indexOf(what, from);
        }
    }

    private static String read(Path out) throws IOException {
        return Files.exists(out) ? clean(Files.readString(out, StandardCharsets.UTF_8)) : "";
    }

    /** Output as a reader sees it: terminal escape sequences and carriage returns removed. */
    static String clean(String s) {
        return s.replaceAll("\u001B\\[[0-9;?]*[A-Za-z]", "").replaceAll("\u001B[()][A-Z0-9]", "").replace("\r", "");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            toBash.close();
        } catch (IOException e) {
            // already gone
        }
        try {
            if (!bash.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                bash.descendants().forEach(ProcessHandle::destroyForcibly);
                bash.destroyForcibly();
                bash.waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
