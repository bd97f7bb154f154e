package org.carevisor.manager.tls;

/** The API's certificate cannot be used: the message names the file or setting and what to do. */
public final class TlsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Stable code of this error in logs and the audit trail. */
    public static final String CODE = "tls-certificate-invalid";

    public TlsException(String message) {
        super(message);
    }

    public TlsException(String message, Throwable cause) {
        super(message, cause);
    }
}
