package org.carevisor.agent.ha;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.carevisor.protocol.HaTimings;
import org.carevisor.protocol.SignedLease;

/**
 * Where storage lease files live: {@code <storageRoot>/.carevisor/leases/<hostId>.lease}, whose text is a {@link
 * SignedLease} (signed by its owner). Reads are bounded, so a huge file put there by someone else costs nothing.
 * Stateless.
 */
public final class LeaseFile {
    /** Suffix of lease files; temporary files of writers start with a dot and end otherwise. */
    public static final String SUFFIX = ".lease";
    public static final String AGENT = SignedLease.AGENT;
    public static final String KEEPER = SignedLease.KEEPER;

    private LeaseFile() {
    }

    /** The directory of all lease files of the storage at {@code storageRoot}. */
    public static Path directory(Path storageRoot) {
        return storageRoot.resolve(HaTimings.LEASE_DIR);
    }

    /** The lease file of {@code hostId}. */
    public static Path of(Path storageRoot, String hostId) {
        return directory(storageRoot).resolve(hostId + SUFFIX);
    }

    /**
     * The text of a lease file, read up to {@link SignedLease#MAX_TEXT} characters; {@link IOException} for a longer
     * file (it is no lease) or when it cannot be read.
     */
    public static String read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] bytes = in.readNBytes(SignedLease.MAX_TEXT + 1);
            if (bytes.length > SignedLease.MAX_TEXT) {
                throw new IOException("it is larger than " + SignedLease.MAX_TEXT + " bytes");
            }
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }
}
