package org.carevisor.qemu;

/** Base of every error raised by the QEMU library; {@link #code()} is stable and meant for programs. */
public class QemuException extends RuntimeException {
    private final String code;

    public QemuException(String code, String message) {
        super(message);
        this.code = code;
    }

    public QemuException(String code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    /** Stable error code, e.g. {@code qmp-timeout}. */
    public String code() {
        return code;
    }
}
