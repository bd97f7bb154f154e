package org.carevisor.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor vm clone|export|import|archive|restore}: VMs as files. */
final class VmFileCommands {
    private VmFileCommands() {
    }

    @Command(name = "clone", mixinStandardHelpOptions = true,
            description = "Full clone of a stopped VM with a new identity (UUID, MACs, name).")
    static final class Clone implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(index = "0", paramLabel = "VM", description = "the stopped VM to copy")
        String vm;

        @Parameters(index = "1", paramLabel = "NAME", description = "the clone's name")
        String name;

        @Option(names = "--description")
        String description;

        @Option(names = "--start", description = "start the clone once made")
        boolean start;

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode().put("name", name).put("start", start);
            if (description != null) {
                body.put("description", description);
            }
            Tasks.follow(parent.root, parent.root.api().post("/api/v1/vms/" + Format.path(vm) + "/clone", body),
                    !wait.noWait, wait.limit());
        }
    }

    @Command(name = "export", mixinStandardHelpOptions = true, description = {
            "Export a stopped VM into one file in the storage (exports/<name>-<UTC time>.cva): its disks (flattened)",
            "and definition with SHA-256 checksums. Snapshots are not exported."})
    static final class Export implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM")
        String vm;

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            Tasks.follow(parent.root, parent.root.api().post("/api/v1/vms/" + Format.path(vm) + "/export", null),
                    !wait.noWait, wait.limit());
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true, description = {
            "Import a VM from an export file in the storage; every checksum is verified first.",
            "Example: carevisor vm import ehr-01-20261122-101500.cva --name ehr-01-test --new-identity"})
    static final class Import implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "FILE", description = "name of the export file in the storage's exports/ directory")
        String file;

        @Option(names = "--cluster", description = "cluster whose storage holds the file; the VM goes there")
        String cluster;

        @Option(names = "--name", description = "default: the exported VM's name")
        String name;

        @Option(names = "--new-identity", description = "new UUID and MACs instead of the exported ones")
        boolean newIdentity;

        @Option(names = "--start", description = "start the VM once imported")
        boolean start;

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode().put("file", file)
                    .put("identity", newIdentity ? "new" : "keep").put("start", start);
            if (name != null) {
                body.put("name", name);
            }
            if (cluster != null) {
                body.put("cluster", cluster);
            }
            Tasks.follow(parent.root, parent.root.api().post("/api/v1/vm-imports", body), !wait.noWait, wait.limit());
        }
    }

    @Command(name = "archive", mixinStandardHelpOptions = true, description = {
            "Archive a stopped VM: its disks and definition go into archive/<id>.cva, its disks are removed, and",
            "the VM stays as a read-only record until restored."})
    static final class Archive implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM")
        String vm;

        @Mixin
        SignOptions sign = new SignOptions();

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            Tasks.follow(parent.root, parent.root.api().post("/api/v1/vms/" + Format.path(vm) + "/archive",
                    sign.body(parent.root)), !wait.noWait, wait.limit());
        }
    }

    @Command(name = "restore", mixinStandardHelpOptions = true,
            description = "Restore an archived VM from its archive file (checksums verified).")
    static final class Restore implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM")
        String vm;

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            Tasks.follow(parent.root, parent.root.api().post("/api/v1/vms/" + Format.path(vm) + "/restore", null),
                    !wait.noWait, wait.limit());
        }
    }
}
