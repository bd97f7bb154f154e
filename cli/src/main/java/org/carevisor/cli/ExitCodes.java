package org.carevisor.cli;

/** Exit codes of the carevisor command; stable, documented in docs/api.md and in --help. */
public final class ExitCodes {
    public static final int OK = 0;
    /** Any other error, including a 5xx answer of the manager. */
    public static final int ERROR = 1;
    /** Wrong command-line usage. */
    public static final int USAGE = 2;
    /** The named object does not exist (404). */
    public static final int NOT_FOUND = 3;
    /** The request conflicts with the current state, e.g. the VM is running (409). */
    public static final int CONFLICT = 4;
    /** The request is invalid (400). */
    public static final int INVALID = 5;
    /** The task ran and failed. */
    public static final int TASK_FAILED = 6;
    /** The manager cannot be reached. */
    public static final int UNREACHABLE = 7;
    /** Gave up waiting for a task. */
    public static final int TIMEOUT = 8;

    private ExitCodes() {
    }

    /** The exit code for an HTTP error status. */
    public static int forStatus(int status) {
        return switch (status) {
            case 404 -> NOT_FOUND;
            case 409 -> CONFLICT;
            case 400, 422 -> INVALID;
            default -> ERROR;
        };
    }
}
