package org.carevisor.protocol;

/**
 * Asks an agent to unpack and verify an export file and place its disks in {@code targetDir}.
 *
 * @param source    export file relative to the storage root
 * @param targetDir directory for the disks, relative to the storage root; must not exist
 */
public record ImportRequest(String source, String targetDir) {
}
