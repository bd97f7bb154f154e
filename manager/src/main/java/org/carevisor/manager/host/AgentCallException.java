package org.carevisor.manager.host;

/** A call to an agent failed: the agent refused it (with its code) or could not be reached. */
public final class AgentCallException extends RuntimeException {
    private final int status;
    private final String code;
    private final boolean mayHaveArrived;

    public AgentCallException(int status, String code, String message) {
        this(status, code, message, status != 0);
    }

    public AgentCallException(int status, String code, String message, boolean mayHaveArrived) {
        super(message);
        this.status = status;
        this.code = code;
        this.mayHaveArrived = mayHaveArrived;
    }

    /**
     * False only when the request certainly did not reach the agent (connection refused, TLS handshake
     * failed); true when the agent answered, or when it may have acted before the answer was lost.
     */
    public boolean mayHaveArrived() {
        return mayHaveArrived;
    }

    /** HTTP status the agent answered with; 0 when it could not be reached. */
    public int status() {
        return status;
    }

    public String code() {
        return code;
    }
}
