package org.carevisor.itest;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.carevisor.testkit.Http;

/** Test helpers that look at disk images from outside the guest. */
final class GuestDisks {
    private GuestDisks() {
    }

    /** {@code qemu-img info} of an image as JSON (works while a VM uses it). */
    static JsonNode info(Path image) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("qemu-img", "info", "-U", "--output=json", image.toString()).start();
        JsonNode n = Http.json().readTree(p.getInputStream());
        p.waitFor(30, TimeUnit.SECONDS);
        return n;
    }
}
