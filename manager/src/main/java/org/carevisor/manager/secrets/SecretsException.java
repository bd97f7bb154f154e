package org.carevisor.manager.secrets;

/**
 * A secret at rest cannot be sealed or opened: the key file is missing, unreadable or not the key that sealed the
 * stored values, or a stored value was changed. The message names the file and what to restore.
 */
public final class SecretsException extends IllegalStateException {
    public SecretsException(String message) {
        super(message);
    }

    public SecretsException(String message, Throwable cause) {
        super(message, cause);
    }
}
