package org.carevisor.cli;

/**
 * Exit codes of the carevisor command; stable, documented in docs/api.md and in --help:
 * 0 ok, 1 error, 2 usage, 3 not found (404), 4 conflict (409), 5 invalid request (400, 422), 6 task failed,
 * 7 manager unreachable, 8 timed out waiting, 9 not authenticated (401: not logged in, session ended, wrong
 * password at login), 10 forbidden (403: missing privilege, password change required, signature required or
 * refused, account locked or disabled).
 */
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
    /** Not authenticated (401): not logged in, the session or token ended, or the login failed. */
    public static final int NOT_AUTHENTICATED = 9;
    /** Forbidden (403): a privilege is missing, or a password change or electronic signature is needed first. */
    public static final int FORBIDDEN = 10;

    private ExitCodes() {
    }

    /** The exit code for an HTTP error status. */
    public static int forStatus(int status) {
        return switch (status) {
            case 404 -> NOT_FOUND;
            case 409 -> CONFLICT;
            case 400, 422 -> INVALID;
            case 401 -> NOT_AUTHENTICATED;
            case 403 -> FORBIDDEN;
            default -> ERROR;
        };
    }
}
