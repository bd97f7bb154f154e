package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor template ...}: master VMs, their qualification and deployment. */
@Command(name = "template", mixinStandardHelpOptions = true,
        description = {"Templates (master VMs): made from a stopped VM, qualified, deployed as linked or full clones.",
                "TEMPLATE is an id, name@version, or a name (meaning its highest version)."},
        subcommands = {TemplateCommand.ListTemplates.class, TemplateCommand.Show.class, TemplateCommand.Create.class,
                TemplateCommand.Qualify.class, TemplateCommand.Retire.class, TemplateCommand.Delete.class,
                TemplateCommand.Deploy.class})
final class TemplateCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        ListTemplates.print(root);
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List templates.")
    static final class ListTemplates implements Runnable {
        @ParentCommand
        TemplateCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        static void print(CarevisorCli root) {
            JsonNode list = root.api().get("/api/v1/templates");
            if (root.json) {
                root.printJson(list);
                return;
            }
            Table t = new Table("NAME", "VERSION", "STATE", "CPUS", "MEMORY", "GUEST OS", "LINKED CLONES", "OWNER", "ID");
            for (JsonNode x : list) {
                t.row(x.path("name").asText(), x.path("version").asInt(), x.path("state").asText(), x.path("cpus").asInt(),
                        x.path("memoryMiB").asInt() + " MiB", x.path("guestOs").asText("-"),
                        x.path("linkedClones").size(), x.path("owner").asText(), x.path("id").asText());
            }
            t.print(root.out);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one template.")
    static final class Show implements Runnable {
        @ParentCommand
        TemplateCommand parent;

        @Parameters(paramLabel = "TEMPLATE")
        String template;

        @Override
        public void run() {
            JsonNode t = parent.root.api().get("/api/v1/templates/" + Format.path(template));
            if (parent.root.json) {
                parent.root.printJson(t);
            } else {
                Format.fields(parent.root.out, t);
            }
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = {
            "Turn a stopped VM into a template (state draft). Its disks become read-only base images; the VM is",
            "replaced by the template. A VM deployed from template T becomes the next version of T by default."})
    static final class Create implements Runnable {
        @ParentCommand
        TemplateCommand parent;

        @Parameters(paramLabel = "VM", description = "the stopped VM (id or name)")
        String vm;

        @Option(names = "--name", description = "template name (default: see above)")
        String name;

        @Option(names = "--description")
        String description;

        @Option(names = "--guest-os", description = "e.g. \"Debian 12\"")
        String guestOs;

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode().put("vm", vm);
            if (name != null) {
                body.put("name", name);
            }
            if (description != null) {
                body.put("description", description);
            }
            if (guestOs != null) {
                body.put("guestOs", guestOs);
            }
            Tasks.follow(parent.root, parent.root.api().post("/api/v1/templates", body), !wait.noWait, wait.limit());
        }
    }

    @Command(name = "qualify", mixinStandardHelpOptions = true,
            description = {"Qualify a draft template: the SHA-256 of every base image is recorded and verified before"
                    + " every deployment.", "Example: carevisor template qualify ehr-master --sign approved \\",
                    "           --reason \"IQ/OQ report 2026-11\""})
    static final class Qualify implements Runnable {
        @ParentCommand
        TemplateCommand parent;

        @Parameters(paramLabel = "TEMPLATE")
        String template;

        @Mixin
        SignOptions sign = new SignOptions();

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            JsonNode task = parent.root.api().post("/api/v1/templates/" + Format.path(template) + "/qualify",
                    sign.body(parent.root));
            Tasks.follow(parent.root, task, !wait.noWait, wait.limit());
        }
    }

    @Command(name = "retire", mixinStandardHelpOptions = true,
            description = "Retire a template: no new deployments; VMs made from it keep running.")
    static final class Retire implements Runnable {
        @ParentCommand
        TemplateCommand parent;

        @Parameters(paramLabel = "TEMPLATE")
        String template;

        @Mixin
        SignOptions sign = new SignOptions();

        @Override
        public void run() {
            JsonNode t = parent.root.api().post("/api/v1/templates/" + Format.path(template) + "/retire",
                    sign.body(parent.root));
            if (parent.root.json) {
                parent.root.printJson(t);
            } else {
                parent.root.out.println("template " + t.path("label").asText() + " is " + t.path("state").asText());
            }
        }
    }

    @Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true,
            description = "Delete a template and its base images (refused while linked clones use it).")
    static final class Delete implements Runnable {
        @ParentCommand
        TemplateCommand parent;

        @Parameters(paramLabel = "TEMPLATE")
        String template;

        @Mixin
        SignOptions sign = new SignOptions();

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            String path = "/api/v1/templates/" + Format.path(template);
            Tasks.follow(parent.root, sign.delete(parent.root, path), !wait.noWait, wait.limit());
        }
    }

    @Command(name = "deploy", mixinStandardHelpOptions = true, description = {
            "Deploy a VM from a template with a new identity (UUID, MACs, name).",
            "Example: carevisor template deploy ehr-master ehr-07 --start"})
    static final class Deploy implements Runnable {
        @ParentCommand
        TemplateCommand parent;

        @Parameters(index = "0", paramLabel = "TEMPLATE")
        String template;

        @Parameters(index = "1", paramLabel = "NAME", description = "the new VM's name")
        String name;

        @Option(names = "--full", description = "an independent full copy instead of a linked clone")
        boolean full;

        @Option(names = "--cpus", description = "default: the template's")
        Integer cpus;

        @Option(names = {"--memory", "--memory-mib"}, paramLabel = "SIZE", converter = MemorySize.class,
                description = "memory: MiB, or with a unit (512M, 2G); default: the template's")
        Integer memory;

        @Option(names = "--description")
        String description;

        @Option(names = "--start", description = "start the VM once deployed")
        boolean start;

        @Mixin
        VmCommand.WaitOptions wait = new VmCommand.WaitOptions();

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode().put("name", name).put("mode", full ? "full" : "linked")
                    .put("start", start);
            if (cpus != null) {
                body.put("cpus", cpus);
            }
            if (memory != null) {
                body.put("memoryMiB", memory);
            }
            if (description != null) {
                body.put("description", description);
            }
            Tasks.follow(parent.root, parent.root.api().post("/api/v1/templates/" + Format.path(template) + "/deploy",
                    body), !wait.noWait, wait.limit());
        }
    }
}
