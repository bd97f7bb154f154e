package org.carevisor.protocol;

import java.util.Map;

/** SHA-256 (lower-case hex) of each requested path. */
public record ChecksumResult(Map<String, String> sha256) {
    public ChecksumResult {
        sha256 = Map.copyOf(sha256);
    }
}
