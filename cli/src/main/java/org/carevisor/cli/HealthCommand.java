package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor health}. */
@Command(name = "health", mixinStandardHelpOptions = true, description = "Show the manager's health.")
final class HealthCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        JsonNode h = root.api().get("/api/v1/health");
        if (root.json) {
            root.printJson(h);
            return;
        }
        root.out.println("status:    " + h.path("status").asText());
        root.out.println("version:   " + h.path("version").asText());
        root.out.println("database:  " + h.path("database").path("status").asText() + " ("
                + h.path("database").path("product").asText() + ")");
        root.out.println("hosts:     " + h.path("hosts").path("connected").asInt() + " of "
                + h.path("hosts").path("total").asInt() + " connected");
        root.out.println("vms:       " + h.path("vms").asInt());
        root.out.println("uptime:    " + h.path("uptimeSeconds").asLong() + " s");
        root.out.println("manager:   " + root.resolveUrl());
        for (JsonNode a : h.path("alarms")) {
            root.out.println("ALARM:     " + a.path("code").asText() + " since " + a.path("since").asText() + ": "
                    + a.path("reason").asText());
        }
    }
}
