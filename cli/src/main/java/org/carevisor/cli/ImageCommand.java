package org.carevisor.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/** {@code carevisor image list}. */
@Command(name = "image", mixinStandardHelpOptions = true, description = "Disk images in the image library.",
        subcommands = {ImageCommand.ListImages.class})
final class ImageCommand implements Runnable {
    @ParentCommand
    CarevisorCli root;

    @Override
    public void run() {
        ListImages.print(root);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List images.")
    static final class ListImages implements Runnable {
        @ParentCommand
        ImageCommand parent;

        @Override
        public void run() {
            print(parent.root);
        }

        static void print(CarevisorCli root) {
            JsonNode images = root.api().get("/api/v1/images");
            if (root.json) {
                root.printJson(images);
                return;
            }
            Table t = new Table("NAME", "FORMAT", "SIZE", "ON DISK", "PATH", "ID");
            for (JsonNode i : images) {
                t.row(i.path("name").asText(), i.path("format").asText(), Format.bytes(i.path("virtualSizeBytes").asLong()),
                        Format.bytes(i.path("actualSizeBytes").asLong()), i.path("path").asText(), i.path("id").asText());
            }
            t.print(root.out);
        }
    }
}
