package org.carevisor.cli;

/** A command failed; carries the exit code scripts rely on (see {@link ExitCodes}). */
public final class CliException extends RuntimeException {
    private final int exitCode;

    public CliException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
