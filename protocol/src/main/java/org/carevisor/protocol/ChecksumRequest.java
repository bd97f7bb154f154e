package org.carevisor.protocol;

import java.util.List;

/** Asks an agent for the SHA-256 of files in its storage (paths relative to the storage root). */
public record ChecksumRequest(List<String> paths) {
    public ChecksumRequest {
        paths = List.copyOf(paths);
    }
}
