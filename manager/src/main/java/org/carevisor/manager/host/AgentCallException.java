package org.carevisor.manager.host;

/** A call to an agent failed: the agent refused it (with its code) or could not be reached. */
public final class AgentCallException extends RuntimeException {
    private final int status;
    private final String code;

    public AgentCallException(int status, String code, String message) {
        super(message);
        this.status = status;
        this.code = code;
    }

    /** HTTP status the agent answered with; 0 when it could not be reached. */
    public int status() {
        return status;
    }

    public String code() {
        return code;
    }
}
