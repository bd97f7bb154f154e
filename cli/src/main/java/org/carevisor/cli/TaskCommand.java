package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor task list|show|wait}. */
@Command(name = "task", mixinStandardHelpOptions = true, description = "Long-running operations.",
        subcommands = {TaskCommand.ListTasks.class, TaskCommand.Show.class, TaskCommand.Wait.class,
                TaskCommand.Cancel.class})
final class TaskCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        ListTasks.print(root, null, 20);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Recent tasks, newest first.")
    static final class ListTasks implements Runnable {
        @ParentCommand
        TaskCommand parent;

        @Option(names = "--target", description = "only tasks of this object id")
        String target;

        @Option(names = "--limit", defaultValue = "20", description = "most tasks (default ${DEFAULT-VALUE})")
        int limit;

        @Override
        public void run() {
            print(parent.root, target, limit);
        }

        static void print(CarevisorCli root, String target, int limit) {
            JsonNode tasks = root.api().get("/api/v1/tasks?limit=" + limit + (target == null ? "" : "&target="
                    + Format.path(target)));
            if (root.json) {
                root.printJson(tasks);
                return;
            }
            Table t = new Table("CREATED", "KIND", "TARGET", "STATE", "PROGRESS", "RESULT", "ID");
            for (JsonNode x : tasks) {
                t.row(x.path("createdAt").asText(), x.path("kind").asText(), x.path("target").path("name").asText("-"),
                        x.path("state").asText(), x.path("progress").asInt() + "%",
                        VmCommand.shorten(x.has("error") ? x.path("error").path("detail").asText()
                                : x.path("message").asText(x.path("phase").asText("")), 60), x.path("id").asText());
            }
            t.print(root.out);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one task.")
    static final class Show implements Runnable {
        @ParentCommand
        TaskCommand parent;

        @Parameters(paramLabel = "TASK", description = "task id")
        String id;

        @Override
        public void run() {
            JsonNode t = parent.root.api().get("/api/v1/tasks/" + Format.path(id));
            if (parent.root.json) {
                parent.root.printJson(t);
            } else {
                Format.fields(parent.root.out, t);
            }
        }
    }

    @Command(name = "wait", mixinStandardHelpOptions = true,
            description = "Wait until a task ends; exit code 6 when it failed.")
    static final class Wait implements Runnable {
        @ParentCommand
        TaskCommand parent;

        @Parameters(paramLabel = "TASK", description = "task id")
        String id;

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "600", description = "default ${DEFAULT-VALUE}")
        long timeout;

        @Override
        public void run() {
            Tasks.follow(parent.root, parent.root.api().get("/api/v1/tasks/" + Format.path(id)), true,
                    Duration.ofSeconds(timeout));
        }
    }

    @Command(name = "cancel", mixinStandardHelpOptions = true,
            description = "Ask a running task to stop (live migrations; the VM stays where it was).")
    static final class Cancel implements Runnable {
        @ParentCommand
        TaskCommand parent;

        @Parameters(paramLabel = "TASK", description = "task id")
        String task;

        @Override
        public void run() {
            JsonNode t = parent.root.api().post("/api/v1/tasks/" + Format.path(task) + "/cancel", null);
            if (parent.root.json) {
                parent.root.printJson(t);
            } else {
                parent.root.out.println("cancellation requested for task " + task + " (" + t.path("kind").asText()
                        + "); follow it with: carevisor task wait " + task);
            }
        }
    }
}
