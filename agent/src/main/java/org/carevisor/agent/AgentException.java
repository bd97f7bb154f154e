package org.carevisor.agent;

/** An agent operation refused or failed; carries the HTTP status and a stable code for the manager. */
public final class AgentException extends RuntimeException {
    private final int status;
    private final String code;

    public AgentException(int status, String code, String message) {
        super(message);
        this.status = status;
        this.code = code;
    }

    public AgentException(int status, String code, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.code = code;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public static AgentException notFound(String what) {
        return new AgentException(404, "not-found", what);
    }

    public static AgentException conflict(String code, String what) {
        return new AgentException(409, code, what);
    }

    public static AgentException badRequest(String code, String what) {
        return new AgentException(400, code, what);
    }
}
