package org.carevisor.cli;

/**
 * Exit codes of the carevisor command; stable, documented in docs/api.md and in --help:
 * 0 ok, 1 error, 2 usage, 3 not found (404), 4 conflict (409), 5 invalid request (400, 422), 6 task failed,
 * 7 manager unreachable, 8 timed out waiting, 9 not authenticated (401: not logged in, session ended, wrong
 * password at login), 10 forbidden (403: missing privilege, password change required, account locked or
 * disabled), 11 the manager's HTTPS certificate is not trusted (or changed), 12 the change needs a reason or an
 * electronic signature, or the signature was refused. The category comes from the problem's code where one is
 * more precise than its HTTP status ({@link #forProblem}).
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
    /** Forbidden (403): a privilege is missing, the account is locked or disabled, or a password change is due. */
    public static final int FORBIDDEN = 10;
    /** The manager's HTTPS certificate is not trusted, not valid for the host name, or changed since trusted. */
    public static final int UNTRUSTED = 11;

    /**
     * The change needs a reason ({@code --reason}) or an electronic signature ({@code --sign}), or the signature
     * was refused (wrong password, not one's own account): nothing was changed; add what is missing and repeat.
     */
    public static final int SIGNATURE = 12;

    private ExitCodes() {
    }

    /** The exit code for a problem answer: by its code where that says more than the status, else by status. */
    public static int forProblem(int status, String code) {
        if (code != null) {
            switch (code) {
                case "signature-required", "signature-invalid", "reason-required" -> {
                    return SIGNATURE;
                }
                default -> {
                }
            }
        }
        return forStatus(status);
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
