package org.carevisor.qemu;

/** A QMP command failed: QEMU answered with an error, did not answer in time, or the connection broke. */
public final class QmpException extends QemuException {
    private final String errorClass;

    private QmpException(String code, String message, String errorClass, Throwable cause) {
        super(code, message, cause);
        this.errorClass = errorClass;
    }

    /** QEMU answered the command with an error object. */
    public static QmpException commandFailed(String command, String errorClass, String desc) {
        return new QmpException("qmp-error", "QMP " + command + " failed: " + desc + " (" + errorClass + ")",
                errorClass, null);
    }

    /** QEMU did not answer within the command's time limit. */
    public static QmpException timeout(String command, QmpTimeouts.Limit limit) {
        return new QmpException("qmp-timeout", "QMP " + command + " got no answer within "
                + limit.timeout().toMillis() + " ms (" + limit.reason() + ")", null, null);
    }

    /** The monitor connection is closed (QEMU exited or the socket broke). */
    public static QmpException disconnected(String what, Throwable cause) {
        return new QmpException("qmp-disconnected", "QMP connection closed: " + what, null, cause);
    }

    /** The monitor could not be reached or did not speak QMP. */
    public static QmpException connectFailed(String what, Throwable cause) {
        return new QmpException("qmp-connect-failed", what, null, cause);
    }

    /** QEMU's error class (e.g. {@code GenericError}) when QEMU answered with an error, else null. */
    public String errorClass() {
        return errorClass;
    }
}
