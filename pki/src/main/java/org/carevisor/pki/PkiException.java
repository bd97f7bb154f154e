package org.carevisor.pki;

/** A certificate or TLS operation failed; {@link #code()} is stable. */
public final class PkiException extends RuntimeException {
    private final String code;

    public PkiException(String code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public PkiException(String code, String message) {
        this(code, message, null);
    }

    public String code() {
        return code;
    }
}
