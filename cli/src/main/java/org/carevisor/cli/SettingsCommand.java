package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor settings show|set}: the manager's security settings. */
@Command(name = "settings", mixinStandardHelpOptions = true,
        description = "Security settings: automatic logoff, lockout, passwords, reasons and signatures.",
        subcommands = {SettingsCommand.Show.class, SettingsCommand.Set.class})
final class SettingsCommand implements Runnable {
    static final String PATH = "/api/v1/settings/security";

    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        print(root, root.api().get(PATH));
    }

    static void print(CarevisorCli root, JsonNode s) {
        if (root.json) {
            root.printJson(s);
            return;
        }
        int width = 0;
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            width = Math.max(width, it.next().length());
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = s.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            String text = v.isArray() ? (v.isEmpty() ? "(none)" : String.join(", ", Format.strings(v)))
                    : v.isValueNode() ? v.asText() : v.toString();
            root.out.println(e.getKey() + ":" + " ".repeat(width - e.getKey().length() + 1) + text);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show the security settings.")
    static final class Show implements Runnable {
        @ParentCommand
        SettingsCommand parent;

        @Override
        public void run() {
            print(parent.root, parent.root.api().get(PATH));
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true, description = {"Change security settings (audited).",
            "Example: carevisor settings set --idle-minutes 10 --reason \"SOP-12 rev 4\" \\",
            "           --signature-required template.qualify,vm.delete.gxp,audit.review"})
    static final class Set implements Runnable {
        @ParentCommand
        SettingsCommand parent;

        @Option(names = "--idle-minutes", paramLabel = "N", description = "automatic logoff after N minutes idle")
        Integer idleMinutes;

        @Option(names = "--max-hours", paramLabel = "N", description = "a login session ends after N hours")
        Integer maxHours;

        @Option(names = "--lockout-threshold", paramLabel = "N", description = "failed attempts that lock an account")
        Integer lockoutThreshold;

        @Option(names = "--lockout-minutes", paramLabel = "N", description = "how long it stays locked (0: until"
                + " unlocked)")
        Integer lockoutMinutes;

        @Option(names = "--password-min-length", paramLabel = "N", description = "shortest password accepted")
        Integer passwordMinLength;

        @Option(names = "--token-max-days", paramLabel = "N", description = "longest validity of an API token")
        Integer tokenMaxDays;

        @Option(names = "--checkpoint-seconds", paramLabel = "N", description = "how often the audit chain head is"
                + " signed")
        Integer checkpointSeconds;

        @Option(names = "--reason-required", paramLabel = "CLASS", split = ",", description = "object classes"
                + " whose changes need --reason: vm, vm.gxp, template, template.qualified, host, cluster, user;"
                + " 'none' for none")
        List<String> reasonRequired;

        @Option(names = "--signature-required", paramLabel = "ACTION", split = ",", description = "actions that"
                + " need --sign: template.qualify, template.retire, template.delete, vm.delete[.gxp],"
                + " vm.archive[.gxp], audit.review; 'none' for none")
        List<String> signatureRequired;

        @Override
        public void run() {
            ObjectNode body = ApiClient.json().createObjectNode();
            put(body, "sessionIdleMinutes", idleMinutes);
            put(body, "sessionMaxHours", maxHours);
            put(body, "lockoutThreshold", lockoutThreshold);
            put(body, "lockoutMinutes", lockoutMinutes);
            put(body, "passwordMinLength", passwordMinLength);
            put(body, "apiTokenMaxDays", tokenMaxDays);
            put(body, "checkpointSeconds", checkpointSeconds);
            list(body, "reasonRequiredFor", reasonRequired);
            list(body, "signatureRequiredFor", signatureRequired);
            if (body.isEmpty()) {
                throw new CliException(ExitCodes.USAGE, "nothing to change; see carevisor settings set --help");
            }
            print(parent.root, parent.root.api().patch(PATH, body));
        }

        private static void put(ObjectNode body, String field, Integer value) {
            if (value != null) {
                body.put(field, value);
            }
        }

        private static void list(ObjectNode body, String field, List<String> values) {
            if (values == null) {
                return;
            }
            ArrayNode a = body.putArray(field);
            values.stream().map(String::strip).filter(v -> !v.isEmpty() && !v.equals("none")).forEach(a::add);
        }
    }
}
