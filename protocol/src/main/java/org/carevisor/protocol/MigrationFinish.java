package org.carevisor.protocol;

/**
 * Ends a migration on the source host.
 *
 * @param outcome {@code handed-over}: the guest runs on the destination, end the source process;
 *                {@code resume}: the migration did not hand over, let the guest continue on the source
 */
public record MigrationFinish(String outcome) {
    public static final String HANDED_OVER = "handed-over";
    public static final String RESUME = "resume";
}
