package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;

/** Waits for a task, showing its progress on a terminal, and reports the result. */
final class Tasks {
    private Tasks() {
    }

    /**
     * Follows a task until it ends. Prints the result message (or the task as JSON); throws with exit code
     * 6 when the task failed and 8 when it did not finish in time.
     */
    static JsonNode follow(CarevisorCli root, JsonNode task, boolean wait, Duration limit) {
        ApiClient api = root.api();
        if (!wait) {
            if (root.json) {
                root.printJson(task);
            } else {
                root.out.println(task.path("kind").asText() + " started: task " + task.path("id").asText()
                        + " (follow it with: carevisor task wait " + task.path("id").asText() + ")");
            }
            return task;
        }
        boolean tty = System.console() != null && !root.json;
        long deadline = System.nanoTime() + limit.toNanos();
        String last = "";
        JsonNode t = task;
        while (!t.path("state").asText().equals("succeeded") && !t.path("state").asText().equals("failed")) {
            if (System.nanoTime() > deadline) {
                if (tty) {
                    root.err.println();
                }
                throw new CliException(ExitCodes.TIMEOUT, "task " + t.path("id").asText() + " (" + t.path("kind")
                        .asText() + ") did not finish within " + limit.toSeconds() + " s; it is "
                        + t.path("state").asText() + " - check it with: carevisor task show " + t.path("id").asText());
            }
            if (tty) {
                String line = String.format("[%3d%%] %s %s", t.path("progress").asInt(), t.path("kind").asText(),
                        t.path("phase").asText(t.path("state").asText()));
                if (!line.equals(last)) {
                    root.err.print("\r" + line + "   ");
                    last = line;
                }
            }
            try {
                Thread.sleep(150);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CliException(ExitCodes.ERROR, "interrupted");
            }
            t = api.get("/api/v1/tasks/" + t.path("id").asText());
        }
        if (tty) {
            root.err.print("\r" + " ".repeat(last.length() + 3) + "\r");
        }
        if (t.path("state").asText().equals("failed")) {
            if (root.json) {
                root.printJson(t);
            }
            JsonNode error = t.path("error");
            throw new CliException(ExitCodes.TASK_FAILED, t.path("kind").asText() + " failed: "
                    + error.path("detail").asText("no detail") + " [" + error.path("code").asText() + "]");
        }
        if (root.json) {
            root.printJson(t);
        } else {
            root.out.println(t.path("message").asText(t.path("kind").asText() + " succeeded"));
        }
        return t;
    }
}
