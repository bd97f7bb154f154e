package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor snapshot ...}: snapshots of a VM. */
@Command(name = "snapshot", mixinStandardHelpOptions = true,
        description = "Snapshots of a VM: take (with or without memory), list as a tree, revert, delete.",
        subcommands = {SnapshotCommand.ListSnapshots.class, SnapshotCommand.Create.class, SnapshotCommand.Revert.class,
                SnapshotCommand.Delete.class})
final class SnapshotCommand {
    @ParentCommand
    CarevisorCli root;

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true,
            description = "The VM's snapshots as a tree; * marks the one the VM's current state descends from.")
    static final class ListSnapshots implements Runnable {
        @ParentCommand
        SnapshotCommand parent;

        @Parameters(paramLabel = "VM")
        String vm;

        @Override
        public void run() {
            JsonNode list = parent.root.api().get("/api/v1/vms/" + Format.path(vm) + "/snapshots");
            if (parent.root.json) {
                parent.root.printJson(list);
                return;
            }
            Map<String, List<JsonNode>> children = new LinkedHashMap<>();
            List<JsonNode> roots = new ArrayList<>();
            for (JsonNode s : list) {
                String p = s.path("parentId").asText(null);
                if (p == null) {
                    roots.add(s);
                } else {
                    children.computeIfAbsent(p, k -> new ArrayList<>()).add(s);
                }
            }
            Table t = new Table("SNAPSHOT", "MEMORY", "VM WAS", "PAUSED", "CREATED", "BY", "ID");
            for (JsonNode r : roots) {
                row(t, r, children, "");
            }
            t.print(parent.root.out);
        }

        private static void row(Table t, JsonNode s, Map<String, List<JsonNode>> children, String indent) {
            String name = indent + (indent.isEmpty() ? "" : "└─ ") + s.path("name").asText()
                    + (s.path("current").asBoolean() ? " *" : "");
            t.row(name, s.path("withMemory").asBoolean() ? "yes" : "no",
                    s.path("vmWasRunning").asBoolean() ? "running" : "stopped",
                    s.hasNonNull("pausedMs") ? s.path("pausedMs").asLong() + " ms" : null, s.path("createdAt").asText(),
                    s.path("createdBy").asText(), s.path("id").asText());
            for (JsonNode c : children.getOrDefault(s.path("id").asText(), List.of())) {
                row(t, c, children, indent.isEmpty() ? "  " : indent + "   ");
            }
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = {"Take a snapshot.",
            "Example: carevisor snapshot create ehr-01 \"before upgrade\" --memory"})
    static final class Create implements Runnable {
        @ParentCommand
        SnapshotCommand parent;

        @Parameters(index = "0", paramLabel = "VM")
        String vm;

        @Parameters(index = "1", paramLabel = "NAME", description = "unique within the VM")
        String name;

        @Option(names = "--memory", description = "save memory too (running VMs only); revert resumes the guest")
        boolean memory;

        @Option(names = "--description")
        String description;

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode().put("name", name).put("memory", memory);
            if (description != null) {
                body.put("description", description);
            }
            Tasks.follow(parent.root, parent.root.api().post("/api/v1/vms/" + Format.path(vm) + "/snapshots", body),
                    !wait.noWait, wait.limit());
        }
    }

    /** Base of the commands that act on one snapshot of one VM. */
    abstract static class OneSnapshot implements Runnable {
        @ParentCommand
        SnapshotCommand parent;

        @Parameters(index = "0", paramLabel = "VM")
        String vm;

        @Parameters(index = "1", paramLabel = "SNAPSHOT", description = "snapshot name or id")
        String snapshot;

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        String path() {
            return "/api/v1/vms/" + Format.path(vm) + "/snapshots/" + Format.path(snapshot);
        }
    }

    @Command(name = "revert", mixinStandardHelpOptions = true, description = {
            "Revert a VM to a snapshot. With memory the guest continues from that moment; disk-only the VM",
            "boots from that disk state (if it was running)."})
    static final class Revert extends OneSnapshot {
        @Override
        public void run() {
            Tasks.follow(parent.root, parent.root.api().post(path() + "/revert", null), !wait.noWait, wait.limit());
        }
    }

    @Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true,
            description = "Delete a snapshot; the snapshots taken after it stay valid.")
    static final class Delete extends OneSnapshot {
        @Override
        public void run() {
            Tasks.follow(parent.root, parent.root.api().delete(path()), !wait.noWait, wait.limit());
        }
    }
}
