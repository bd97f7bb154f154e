package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor vm ...}: every VM operation of the API. */
@Command(name = "vm", mixinStandardHelpOptions = true, description = "Virtual machines.",
        subcommands = {VmCommand.ListVms.class, VmCommand.Show.class, VmCommand.Create.class, VmCommand.Start.class,
                VmCommand.Stop.class, VmCommand.Shutdown.class, VmCommand.PowerOff.class, VmCommand.Reboot.class,
                VmCommand.Pause.class, VmCommand.Resume.class, VmCommand.Set.class, VmCommand.Delete.class,
                VmCommand.Console.class, VmCommand.History.class, VmFileCommands.Clone.class,
                VmFileCommands.Export.class, VmFileCommands.Import.class, VmFileCommands.Archive.class,
                VmFileCommands.Restore.class, VmClusterCommands.Migrate.class, VmClusterCommands.Placement.class,
                VmClusterCommands.Migrations.class, HaSettingsCommands.VmHa.class})
final class VmCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        ListVms.print(root);
    }

    /** Options shared by commands that start a task. */
    static final class WaitOptions {
        @Option(names = "--no-wait", description = "return at once with the task instead of waiting for it")
        boolean noWait;

        @Option(names = "--wait-timeout", paramLabel = "SECONDS", defaultValue = "600",
                description = "give up waiting after this long (default ${DEFAULT-VALUE})")
        long waitSeconds;

        Duration limit() {
            return Duration.ofSeconds(waitSeconds);
        }
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List VMs.")
    static final class ListVms implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        static void print(CarevisorCli root) {
            JsonNode vms = root.api().get("/api/v1/vms");
            if (root.json) {
                root.printJson(vms);
                return;
            }
            Table t = new Table("NAME", "STATE", "DESIRED", "CPUS", "MEMORY", "HOST", "GUEST", "REASON");
            for (JsonNode v : vms) {
                String lifecycle = v.path("lifecycle").asText("ready");
                t.row(v.path("name").asText(), v.path("state").asText() + (lifecycle.equals("ready") ? ""
                                : " (" + lifecycle + ")"), v.path("powerState").asText(),
                        v.path("cpus").asInt(), v.path("memoryMiB").asInt() + " MiB", v.path("host").asText("-"),
                        guest(v),
                        shorten(v.path("stateReason").asText(""), 60));
            }
            t.print(root.out);
        }

        /**
         * Where the guest's service is reached while it runs: a forwarded host port, or the guest's own address
         * (nothing for a VM without a process: its port is only reserved).
         */
        private static String guest(JsonNode v) {
            String state = v.path("state").asText("");
            if (!state.equals("running") && !state.equals("paused") && !state.equals("migrating")) {
                return null;
            }
            if (v.hasNonNull("guestPort")) {
                return "port " + v.path("guestPort").asInt();
            }
            for (JsonNode nic : v.path("nics")) {
                if (nic.hasNonNull("ip")) {
                    return nic.path("ip").asText();
                }
            }
            return null;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one VM.")
    static final class Show implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM", description = "VM id or name")
        String vm;

        @Override
        public void run() {
            JsonNode v = parent.root.api().get("/api/v1/vms/" + Format.path(vm));
            if (parent.root.json) {
                parent.root.printJson(v);
                return;
            }
            Format.fields(parent.root.out, v);
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = {"Create a VM.",
            "Example: carevisor vm create lab-01 --image carevisor-appliance --cpus 1 --memory 256 --start"})
    static final class Create implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "NAME", description = "VM name: ASCII letters, digits, '.', '_', '-' (other scripts: --description)")
        String name;

        @Option(names = "--cpus", defaultValue = "1", description = "virtual CPUs (default ${DEFAULT-VALUE})")
        int cpus;

        @Option(names = {"--memory", "--memory-mib"}, paramLabel = "SIZE", defaultValue = "256",
                converter = MemorySize.class, description = "memory: MiB, or with a unit (512M, 2G); default"
                + " ${DEFAULT-VALUE} MiB")
        int memory;

        @Option(names = "--image", description = "boot disk: a copy of this image (id or name; see: carevisor image list)")
        String image;

        @Option(names = "--disk-size", paramLabel = "SIZE", converter = MemorySize.Mib.class,
                description = "grow the boot disk copied from --image (MiB, or 20G)")
        Long diskSize;

        @Option(names = "--disk", paramLabel = "SIZE", converter = MemorySize.Mib.class,
                description = "add a blank disk of this size (MiB, or 20G; repeatable)")
        List<Long> disks = new ArrayList<>();

        @Option(names = "--forward", paramLabel = "GUEST[:HOST]",
                description = "forward a host TCP port to this guest port (repeatable; default: guest port 80)")
        List<String> forwards = new ArrayList<>();

        @Option(names = "--no-network", description = "create the VM without a NIC")
        boolean noNetwork;

        @Option(names = "--network", description = "network of the NIC (default: user); a bridged network gives the"
                + " guest a fixed address")
        String network;

        @Option(names = "--cluster", description = "cluster (default: the default cluster)")
        String cluster;

        @Option(names = "--host", description = "create it on this host (default: the scheduler chooses)")
        String host;

        @Option(names = "--local-storage", description = "disks on the host's own storage (the VM cannot move)")
        boolean localStorage;

        @Option(names = "--description", description = "free text")
        String description;

        @Option(names = "--start", description = "start the VM once it is created")
        boolean start;

        @picocli.CommandLine.Mixin
        WaitOptions wait = new WaitOptions();

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode();
            body.put("name", name);
            body.put("cpus", cpus);
            body.put("memoryMiB", memory);
            if (description != null) {
                body.put("description", description);
            }
            if (image != null) {
                body.put("image", image);
            }
            if (diskSize != null) {
                body.put("diskSizeMiB", diskSize);
            }
            if (!disks.isEmpty()) {
                ArrayNode d = body.putArray("disks");
                disks.forEach(size -> d.addObject().put("sizeMiB", size));
            }
            if (cluster != null) {
                body.put("cluster", cluster);
            }
            if (host != null) {
                body.put("host", host);
            }
            if (localStorage) {
                body.put("storage", "local");
            }
            if (noNetwork) {
                body.putArray("nics");
            } else if (network != null && !network.equals("user")) {
                if (!forwards.isEmpty()) {
                    throw new CliException(ExitCodes.USAGE, "--forward works only on the user network; a guest on"
                            + " network " + network + " is reached at its own address");
                }
                body.putArray("nics").addObject().put("network", network);
            } else if (!forwards.isEmpty()) {
                ArrayNode fw = body.putArray("nics").addObject().put("network", "user").putArray("forwards");
                for (String f : forwards) {
                    String[] parts = f.split(":");
                    try {
                        ObjectNode o = fw.addObject().put("protocol", "tcp").put("guestPort", Integer.parseInt(parts[0]));
                        if (parts.length > 1) {
                            o.put("hostPort", Integer.parseInt(parts[1]));
                        }
                    } catch (NumberFormatException e) {
                        throw new CliException(ExitCodes.USAGE, "--forward must look like 80 or 80:20080, not " + f);
                    }
                }
            }
            body.put("start", start);
            Tasks.follow(parent.root, parent.root.api().post("/api/v1/vms", body), !wait.noWait, wait.limit());
        }
    }

    /** Base of the commands that run one power operation on one VM. */
    abstract static class PowerCommand implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM", description = "VM id or name")
        String vm;

        @picocli.CommandLine.Mixin
        WaitOptions wait = new WaitOptions();

        abstract String action();

        Object body() {
            return null;
        }

        @Override
        public void run() {
            JsonNode task = parent.root.api().post("/api/v1/vms/" + Format.path(vm) + "/" + action(), body());
            Tasks.follow(parent.root, task, !wait.noWait, wait.limit());
        }
    }

    @Command(name = "start", mixinStandardHelpOptions = true, description = "Start a VM.")
    static final class Start extends PowerCommand {
        String action() {
            return "start";
        }
    }

    @Command(name = "shutdown", mixinStandardHelpOptions = true,
            description = "Shut a VM down gracefully: ACPI power button, power-off after --timeout.")
    static class Shutdown extends PowerCommand {
        @Option(names = "--timeout", paramLabel = "SECONDS",
                description = "power off when the guest has not stopped after this long (default: the manager's, 60)")
        Integer timeout;

        String action() {
            return "shutdown";
        }

        @Override
        Object body() {
            ObjectNode b = ApiClient.json().createObjectNode();
            if (timeout != null) {
                b.put("timeoutSeconds", timeout);
            }
            return b;
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true,
            description = "Stop a VM: graceful shutdown, or with --force an immediate power-off.")
    static final class Stop extends Shutdown {
        @Option(names = "--force", description = "power off at once instead of asking the guest")
        boolean force;

        @Override
        String action() {
            return force ? "poweroff" : "shutdown";
        }

        @Override
        Object body() {
            return force ? null : super.body();
        }
    }

    @Command(name = "poweroff", mixinStandardHelpOptions = true, description = "Power a VM off at once (no guest shutdown).")
    static final class PowerOff extends PowerCommand {
        String action() {
            return "poweroff";
        }
    }

    @Command(name = "reboot", mixinStandardHelpOptions = true, description = "Reset a running VM (hard reset).")
    static final class Reboot extends PowerCommand {
        String action() {
            return "reboot";
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true, description = "Pause a running VM (memory is kept).")
    static final class Pause extends PowerCommand {
        String action() {
            return "pause";
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Resume a paused VM.")
    static final class Resume extends PowerCommand {
        String action() {
            return "resume";
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true,
            description = "Change name, description, CPUs or memory (CPUs and memory only while stopped).")
    static final class Set implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM", description = "VM id or name")
        String vm;

        @Option(names = "--name", description = "new name")
        String name;

        @Option(names = "--description", description = "new description")
        String description;

        @Option(names = "--cpus", description = "virtual CPUs")
        Integer cpus;

        @Option(names = {"--memory", "--memory-mib"}, paramLabel = "SIZE", converter = MemorySize.class,
                description = "memory: MiB, or with a unit (512M, 2G)")
        Integer memory;

        @Option(names = "--gxp", negatable = true, description = "mark the VM GxP-relevant (changes need a reason,"
                + " deleting and archiving a signature), or not (--no-gxp: removing the mark needs --sign)")
        Boolean gxp;

        @picocli.CommandLine.Mixin
        SignOptions sign = new SignOptions();

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode();
            if (gxp != null) {
                body.put("gxp", gxp);
            }
            if (name != null) {
                body.put("name", name);
            }
            if (description != null) {
                body.put("description", description);
            }
            if (cpus != null) {
                body.put("cpus", cpus);
            }
            if (memory != null) {
                body.put("memoryMiB", memory);
            }
            if (body.isEmpty()) {
                throw new CliException(ExitCodes.USAGE, "nothing to change; give --name, --description, --cpus, --memory or --[no-]gxp");
            }
            ObjectNode signature = sign.signature(parent.root);
            if (signature != null) {
                body.set("signature", signature);
            }
            JsonNode v = parent.root.api().patch("/api/v1/vms/" + Format.path(vm), body);
            if (parent.root.json) {
                parent.root.printJson(v);
            } else {
                parent.root.out.println("VM " + v.path("name").asText() + ": " + v.path("cpus").asInt() + " vCPU(s), "
                        + v.path("memoryMiB").asInt() + " MiB" + (v.path("gxp").asBoolean() ? ", GxP" : ""));
            }
        }
    }

    @Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true,
            description = "Delete a VM and its disk files.")
    static final class Delete implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM", description = "VM id or name")
        String vm;

        @Option(names = "--force", description = "power a running VM off first")
        boolean force;

        @picocli.CommandLine.Mixin
        SignOptions sign = new SignOptions();

        @picocli.CommandLine.Mixin
        WaitOptions wait = new WaitOptions();

        @Override
        public void run() {
            String path = "/api/v1/vms/" + Format.path(vm) + (force ? "?force=true" : "");
            Tasks.follow(parent.root, sign.delete(parent.root, path), !wait.noWait, wait.limit());
        }
    }

    @Command(name = "console", mixinStandardHelpOptions = true,
            description = "Print a VM's serial console log; --follow keeps printing new output until Ctrl-C.")
    static final class Console implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM", description = "VM id or name")
        String vm;

        @Option(names = {"-f", "--follow"}, description = "keep printing new output")
        boolean follow;

        @Option(names = "--bytes", defaultValue = "65536", description = "how much of the end to print (default ${DEFAULT-VALUE})")
        long bytes;

        @Option(names = "--raw", description = "print the guest's output as it is, terminal escape sequences included"
                + " (only into a file or a pipe you trust: a guest can steer a terminal with them)")
        boolean raw;

        @Override
        public void run() {
            ApiClient api = parent.root.api();
            long offset = -bytes;
            do {
                JsonNode chunk = api.get("/api/v1/vms/" + Format.path(vm) + "/console?offset=" + offset);
                if (parent.root.json && !follow) {
                    parent.root.printJson(chunk);
                    return;
                }
                String text = chunk.path("text").asText();
                parent.root.out.print(raw ? text : TerminalText.safe(text));
                parent.root.out.flush();
                offset = chunk.path("nextOffset").asLong();
                if (follow) {
                    try {
                        Thread.sleep(500);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            } while (follow);
        }
    }

    @Command(name = "history", mixinStandardHelpOptions = true, description = "Show the audit records of a VM.")
    static final class History implements Runnable {
        @ParentCommand
        VmCommand parent;

        @Parameters(paramLabel = "VM", description = "VM id or name")
        String vm;

        @Option(names = "--limit", defaultValue = "50", description = "most records (default ${DEFAULT-VALUE})")
        int limit;

        @Override
        public void run() {
            JsonNode records = parent.root.api().get("/api/v1/vms/" + Format.path(vm) + "/history?limit=" + limit);
            AuditCommand.print(parent.root, records);
        }
    }

    static String shorten(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }
}
